//! `runtime_over_usual` in the real daemon: each notebook's median runtime from the runs it saw
//! complete, the cancel at the crossing of its own limit, item ids read once when the list lacks
//! them, and `explain` saying what the limit was compared with.

use super::SECOND;
use crate::util::daemon::{poll_until, Daemon};
use crate::util::Site;
use nbwarden::config::Flavor;

const UNUSUAL: &str = "rules:
  - name: unusual
    match: { type: executeNotebook, status: running, runtime_over_usual: 3x }
    actions: [{ type: cancel }]
";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test]
async fn a_run_at_three_times_its_notebooks_median_is_cancelled_within_2_seconds_with_polls_a_minute_apart() {
    // Six earlier runs of `nb` (median 10 m, one of 40 m), four of `few`; Notebook Server's list
    // carries each job's item. `jslow` crosses 3 x 10 m about 10 s after the simulator starts.
    let mut scenario = String::from("jobs:\n");
    for (n, minutes) in [10, 10, 40, 10, 10, 10].iter().enumerate() {
        scenario += &format!("  - {{ id: nb{n}, item_id: nb, username: joe, start: -{}h, runs: {minutes}m }}\n", n + 2);
    }
    for n in 0..4 {
        scenario += &format!("  - {{ id: few{n}, item_id: few, username: joe, start: -{}h, runs: 10m }}\n", n + 2);
    }
    scenario += "  - { id: jslow, item_id: nb, username: joe, start: -29m50s }\n";
    scenario += "  - { id: jtwice, item_id: nb, username: joe, start: -20m }\n";
    scenario += "  - { id: jfew, item_id: few, username: joe, start: -100m }\n";
    let site = Site::start(&scenario, Flavor::NotebookServer, None, "{ every: 60s, timeout: 5s }").await;
    site.rules(UNUSUAL);
    let crossing = site.sim.jobs().iter().find(|j| j.id == "jslow").unwrap().start_ms + 30 * 60_000;
    let mut daemon = Daemon::start(&site.config_path, &[]);
    let cancelled = poll_until(25 * SECOND, || site.sim.stats().first_cancel_ms.contains_key("jslow")).await;
    assert!(cancelled, "{}", daemon.log());
    let late = site.sim.stats().first_cancel_ms["jslow"] - crossing;
    assert!((0..=2000).contains(&late), "cancelled {late} ms after the crossing\n{}", daemon.log());
    let lists = site.sim.stats().lists;
    assert!((2..=3).contains(&lists), "{lists} list calls: one regular poll and one at the crossing\n{}", daemon.log());
    let cancels = site.sim.stats().cancels;
    assert!(!cancels.contains_key("jtwice") && !cancels.contains_key("jfew"), "{cancels:?}");
    daemon.signal("TERM");
    daemon.wait_exit(15 * SECOND).await.expect("exits after SIGTERM");

    let few = stdout(&site.run(&["explain", "jfew"]).await);
    assert!(few.contains("rule unusual (on poll): no: runtime_over_usual: 3x (min_runs 5, window 20): only 4 earlier run(s) of item few are known, 5 needed (min_runs)"), "{few}");
    let twice = stdout(&site.run(&["explain", "jtwice"]).await);
    assert!(twice.contains("the median of the last 6 run(s) of item nb is 10m, times 3 is 30m"), "{twice}");
    assert!(twice.contains("runtime is 20m") || twice.contains("runtime is 21m"), "{twice}");
}

#[tokio::test]
async fn without_item_ids_in_the_list_each_new_job_is_read_once_and_its_runs_count() {
    // Enterprise's abbreviated list has no `inputs`. `old` is listed at the baseline and finished:
    // nobody needs its item. Six 2-second runs of `nb` appear after the baseline; `slow` then
    // runs past 3 x 2 s; `other` is of an item without runs.
    let mut scenario = String::from("jobs:\n  - { id: old, item_id: nb, username: joe, start: -1h, runs: 10m }\n");
    for n in 0..6 {
        scenario += &format!("  - {{ id: a{n}, item_id: nb, username: joe, start: 8s, runs: 2s }}\n");
    }
    scenario += "  - { id: slow, item_id: nb, username: joe, start: 12s }\n";
    scenario += "  - { id: other, item_id: x, username: joe, start: 12s }\n";
    let site = Site::with_rules(&scenario, "{ every: 1s, timeout: 2s }", UNUSUAL).await;
    let start = site.sim.stats().started_ms + 12_000;
    let daemon = Daemon::start(&site.config_path, &[]);
    let cancelled = poll_until(30 * SECOND, || site.sim.stats().first_cancel_ms.contains_key("slow")).await;
    assert!(cancelled, "{}", daemon.log());
    let stats = site.sim.stats();
    let first_list = stats.calls.iter().find(|(_, call, _)| call == "list").map(|(at, _, _)| *at).unwrap();
    assert!(first_list < start - 4_000, "the baseline came too late for this test\n{}", daemon.log());
    // The daemon knows the server's clock from `Date` headers, to about a second.
    let runtime = stats.first_cancel_ms["slow"] - start;
    assert!((5_000..=8_500).contains(&runtime), "cancelled at a runtime of {runtime} ms (limit 6 s)\n{}", daemon.log());
    assert!(!stats.cancels.contains_key("other"), "{:?}", stats.cancels);
    let reads = |id: &str| stats.job_reads.get(id).copied().unwrap_or(0);
    assert_eq!(reads("old"), 0, "a finished job of the baseline is not read");
    for id in ["a0", "a1", "a2", "a3", "a4", "a5", "other"] {
        assert_eq!(reads(id), 1, "{id}: one read as it appeared, {:?}", stats.job_reads);
    }
    assert_eq!(reads("slow"), 2, "one read as it appeared, one by the cancel's check");
}
