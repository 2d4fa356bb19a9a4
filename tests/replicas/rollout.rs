//! The way packaging/kubernetes reloads rules: the ConfigMap is edited, then `kubectl rollout
//! restart` stops each replica (SIGTERM) and starts it again, one at a time. Here the same on
//! two real replicas: the new rule is in force on both afterwards (their `/status` lists it), and
//! it cancels each running job once, whichever replica held its target across the restarts.

use super::{Cluster, SECOND};
use crate::util::daemon::poll_until;
use crate::util::postgres;

fn site(i: usize) -> String {
    format!(
        "users:\n  - {{ username: admin, password: simulator, email: gis-admins@example.com }}\njobs:\n  - {{ id: long{i}, username: ann, start: -5m }}\n"
    )
}

const NEW_RULES: &str = "rules:
  - name: cancel-long
    match: { status: running, runtime_over: 1m }
    actions: [{ type: cancel }]
";

#[tokio::test]
async fn a_rolling_restart_brings_the_edited_rules_to_every_replica_and_cancels_once() {
    let Some(server) = postgres::url("replicas: a rolling restart") else { return };
    let db = postgres::fresh_database(&server).await;
    let mut cluster = Cluster::start(&[site(1), site(2)], "rules: []\n", db).await;
    for name in ["a", "b"] {
        cluster.launch(name);
    }
    let holders = cluster.settled(&["a", "b"], 30 * SECOND).await;
    assert_eq!(holders.len(), 2, "{holders:?}\n{}", cluster.logs());
    assert!(cluster.baselines(2, 10 * SECOND).await, "{}", cluster.logs());

    // The ConfigMap changes; then each replica in turn stops and starts again.
    std::fs::write(cluster.dir.path().join("rules/test.yaml"), NEW_RULES).unwrap();
    for name in ["a", "b"] {
        let daemon = cluster.replicas.get_mut(name).unwrap();
        daemon.signal("TERM");
        let stopped = daemon.wait_exit(15 * SECOND).await;
        assert!(stopped.is_some_and(|s| s.success()), "{name} stops cleanly: {stopped:?}\n{}", cluster.logs());
        cluster.launch(name);
        cluster.settled(&[name], 30 * SECOND).await;
    }
    let cancelled = || cluster.sites.values().all(|sim| sim.stats().cancels.values().sum::<u32>() == 1);
    assert!(poll_until(20 * SECOND, cancelled).await, "{}", cluster.logs());
    for name in ["a", "b"] {
        let url = format!("http://127.0.0.1:{}/status", cluster.ports[name]);
        let status: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        let rules: Vec<&str> = status["rules"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
        assert_eq!(rules, ["cancel-long"], "{name} runs the edited rules");
    }
    tokio::time::sleep(3 * SECOND).await;
    for (target, sim) in &cluster.sites {
        assert_eq!(sim.stats().cancels.values().sum::<u32>(), 1, "{target}: one cancel, restarts included");
    }
}
