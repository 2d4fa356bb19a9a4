//! Another local user of the machine: a rules folder they can write, files left readable under a
//! loose umask, a second nbwarden on the same state file (the demo's folder: `daemon::demo`).

use crate::util::daemon::Daemon;
use crate::util::{text, Site};
use nbwarden::config::Flavor;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}

#[tokio::test]
async fn rules_another_user_can_change_are_not_read() {
    let site = Site::simple("jobs: []\n", Flavor::Enterprise).await;
    site.rules("rules:\n  - { name: r, actions: [{ type: log }] }\n");
    let rules = site.dir.path().join("rules");
    std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = site.run(&["check"]).await;
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("not read:") && said.contains("can be written by any user (mode 777)"), "{said}");
    assert!(said.contains("chmod go-w"), "{said}");
    std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = rules.join("test.yaml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(site.run(&["check"]).await.status.code(), Some(1), "a rule file others can write is refused too");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(site.run(&["check"]).await.status.success());
    if is_root() {
        std::os::unix::fs::chown(&rules, Some(65534), None).unwrap();
        let said = text(&site.run(&["check"]).await.stdout);
        assert!(said.contains("belongs to another user (uid 65534)"), "{said}");
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[tokio::test]
async fn a_second_nbwarden_on_one_state_file_exits_at_once() {
    let site = Site::simple("jobs:\n  - { id: j1, username: joe, start: -1h }\n", Flavor::Enterprise).await;
    site.rules("rules:\n  - { name: r, actions: [{ type: log }] }\n");
    site.rewrite(|line| line.replace("poll: { timeout: 5s }", "poll: { every: 1s, timeout: 5s }"));
    let mut first = Daemon::start(&site.config_path, &[]);
    assert!(first.wait_for_log("poll", Duration::from_secs(20)).await, "{}", first.log());
    let once = site.run(&["once", "--json"]).await;
    let said = text(&once.stderr);
    assert_eq!(once.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("another nbwarden (pid {}) holds", first.pid())), "{said}");
    let mut second = Daemon::start(&site.config_path, &[]);
    let exited = second.wait_exit(Duration::from_secs(10)).await.expect("the second daemon exits at once");
    assert_eq!(exited.code(), Some(1));
    assert!(second.log().contains("another nbwarden"), "{}", second.log());
    first.assert_running();
    assert!(site.run(&["once", "--dry-run"]).await.status.success(), "a preview writes nothing and may run beside it");
    first.signal("TERM");
    first.wait_exit(Duration::from_secs(15)).await.expect("stops");
    assert!(site.run(&["once"]).await.status.success(), "the file is free again");
}

#[tokio::test]
async fn state_and_reports_are_private_whatever_the_umask() {
    let site = Site::simple("jobs:\n  - { id: j1, username: joe, start: -1h, runs: 10m }\n", Flavor::Enterprise).await;
    site.rewrite(|line| line.replace("state: { path: state.db }", "state: { path: deep/er/state.db }"));
    let config = site.config_path.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_nbwarden");
    let script = format!("umask 000; {bin} --config {config} once && {bin} --config {config} report --out report.html");
    let out =
        tokio::process::Command::new("sh").args(["-c", &script]).current_dir(site.dir.path()).output().await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&site.dir.path().join("deep")), 0o700, "the state folder");
    assert_eq!(mode(&site.dir.path().join("deep/er/state.db")), 0o600);
    assert_eq!(mode(&site.dir.path().join("report.html")), 0o600, "the report");
}

#[tokio::test]
async fn a_corrupted_state_file_says_so_and_what_to_do() {
    let site = Site::simple("jobs: []\n", Flavor::Enterprise).await;
    std::fs::write(site.dir.path().join("state.db"), vec![0x5a; 8192]).unwrap();
    let started = std::time::Instant::now();
    let out = site.run(&["once"]).await;
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(5), "at once, not after the pool's timeout");
    assert!(said.contains("the state file is corrupted") && said.contains("Move it aside"), "{said}");
}
