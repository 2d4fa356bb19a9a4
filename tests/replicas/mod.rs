//! Several real `nbwarden run` replicas on one real PostgreSQL server, watching several simulated
//! sites: each target is polled by one replica at a time, the targets spread, a killed or paused
//! holder's targets are taken over within `lease_ttl` plus one poll interval, and every cancel and
//! every notice happens exactly once (cancels counted at the simulators, messages by Message-ID).

mod crash;
mod rollout;
mod spread;

use crate::util::daemon::Daemon;
use crate::util::smtp::{free_port, SmtpServer};
use nbwarden::config::{parse_yaml, Flavor};
use nbwarden::simulator::{Scenario, Simulator, SimulatorHandle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);
/// The lease of the tests: short, so that takeovers are quick.
const TTL: Duration = Duration::from_secs(3);
/// How often each target is polled.
const POLL: Duration = Duration::from_secs(1);

/// Simulated sites, an SMTP server, a database, and the replicas' configuration files.
struct Cluster {
    sites: BTreeMap<String, SimulatorHandle>,
    smtp: SmtpServer,
    /// The database's URL, with its password (for the test's own queries).
    db: String,
    dir: tempfile::TempDir,
    replicas: BTreeMap<String, Daemon>,
    ports: BTreeMap<String, u16>,
}

impl Cluster {
    /// A site per scenario (targets `t1`, `t2`, …), `rules`, and the database at `db`.
    async fn start(scenarios: &[String], rules: &str, db: String) -> Cluster {
        let mut sites = BTreeMap::new();
        for (i, yaml) in scenarios.iter().enumerate() {
            let scenario: Scenario = parse_yaml(Path::new("scenario.yaml"), yaml).expect("scenario parses");
            let addr = "127.0.0.1:0".parse().unwrap();
            let sim = Simulator::start(&scenario, Flavor::Enterprise, addr).await.expect("simulator starts");
            sites.insert(format!("t{}", i + 1), sim);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("rules/test.yaml"), rules).unwrap();
        // Written once: a rewrite while an earlier replica reads it would hand that one an empty file.
        let password = reqwest::Url::parse(&db).unwrap().password().unwrap_or_default().to_string();
        std::fs::write(dir.path().join("db-password"), password).unwrap();
        let smtp = SmtpServer::start(None, None);
        Cluster { sites, smtp, db, dir, replicas: BTreeMap::new(), ports: BTreeMap::new() }
    }

    /// The configuration file of replica `name`: the password in a file, the URL without it.
    fn config(&mut self, name: &str) -> PathBuf {
        let mut url = reqwest::Url::parse(&self.db).unwrap();
        url.set_password(None).unwrap();
        let port = *self.ports.entry(name.to_string()).or_insert_with(free_port);
        let mut yaml = String::from("targets:\n");
        for (target, sim) in &self.sites {
            yaml.push_str(&format!(
                "  - name: {target}\n    flavor: enterprise\n    admin_url: '{}'\n    auth: {{ portal_url: '{}', username: admin, password: simulator, referer: nbwarden-{name} }}\n    poll: {{ every: {}s, timeout: 2s }}\n",
                sim.admin_url(),
                sim.portal_url(),
                POLL.as_secs()
            ));
        }
        yaml.push_str(&format!(
            "http: {{ listen: '127.0.0.1:{port}' }}\nrules: [rules/]\nstate: {{ url: '{url}', password_file: db-password }}\nha: {{ replica: {name}, lease_ttl: {}s }}\nemail: {{ host: 127.0.0.1, port: {}, security: none, from: n@example.org }}\n",
            TTL.as_secs(),
            self.smtp.port
        ));
        let path = self.dir.path().join(format!("nbwarden-{name}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// Starts (or restarts) replica `name`.
    fn launch(&mut self, name: &str) {
        let config = self.config(name);
        self.replicas.insert(name.to_string(), Daemon::start(&config, &[]));
    }

    /// SIGKILLs replica `name` and waits until it is gone.
    async fn kill(&mut self, name: &str) {
        let daemon = self.replicas.get_mut(name).expect("running");
        daemon.signal("KILL");
        assert!(daemon.wait_exit(5 * SECOND).await.is_some(), "{name} is killed");
    }

    /// The holder of each target's live lease, from the database.
    async fn holders(&self) -> BTreeMap<String, String> {
        let sql = "SELECT target || '=' || holder FROM leases
                   WHERE expires_ms > (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
        // Nothing yet while the first replica is still creating the tables.
        let rows = crate::util::postgres::column(&self.db, sql).await.unwrap_or_default();
        rows.iter().filter_map(|r| r.split_once('=')).map(|(t, h)| (t.to_string(), h.to_string())).collect()
    }

    /// Waits until every target has a live holder, and each of `replicas` holds at least one.
    async fn settled(&self, replicas: &[&str], within: Duration) -> BTreeMap<String, String> {
        let started = std::time::Instant::now();
        loop {
            let holders = self.holders().await;
            let spread = replicas.iter().all(|r| holders.values().any(|h| h == r));
            if (holders.len() == self.sites.len() && spread) || started.elapsed() > within {
                return holders;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `targets` targets have a committed first poll (their silent baseline).
    async fn baselines(&self, targets: usize, within: Duration) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < within {
            let rows =
                crate::util::postgres::column(&self.db, "SELECT target FROM snapshots").await.unwrap_or_default();
            if rows.len() >= targets {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// The list and cancel calls of target `target`, as (site clock ms, call, replica).
    fn calls(&self, target: &str) -> Vec<(i64, String, String)> {
        let stats = self.sites[target].stats();
        stats.calls.iter().map(|(at, call, referer)| (*at, call.clone(), replica_of(referer))).collect()
    }

    /// The logs of every replica, for failure messages.
    fn logs(&self) -> String {
        self.replicas.iter().map(|(name, d)| format!("--- replica {name}\n{}\n", d.log())).collect()
    }
}

/// The replica a Referer names (`nbwarden-a` → `a`).
fn replica_of(referer: &str) -> String {
    referer.strip_prefix("nbwarden-").unwrap_or(referer).to_string()
}

/// Now on the simulators' clock (this machine's), epoch ms.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Runs of consecutive list calls by one replica: `[(replica, first ms, last ms)]`.
fn runs(calls: &[(i64, String, String)]) -> Vec<(String, i64, i64)> {
    let mut runs: Vec<(String, i64, i64)> = Vec::new();
    for (at, _, replica) in calls.iter().filter(|(_, call, _)| call == "list") {
        match runs.last_mut() {
            Some((last, _, end)) if last == replica => *end = *at,
            _ => runs.push((replica.clone(), *at, *at)),
        }
    }
    runs
}
