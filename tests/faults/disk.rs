//! The state store on a full disk and on a read-only file system: a clear error, the daemon keeps
//! going, no corruption, and nothing is lost once space is back. The disk fills and empties
//! through the `failpoints` build's disk fault (`NBWARDEN_FAILPOINT_DISK` names a file saying
//! `ENOSPC` or `EROFS`): every write of the state store then meets that I/O error, as on a real
//! full or read-only disk, without root (no tmpfs to mount, no `chattr`), so these run everywhere.

use super::{started, SECOND};
use crate::util::daemon::{poll_until, Daemon};
use crate::util::hook::HookServer;
use crate::util::{text, Site};
use nbwarden::config::Flavor;
use nbwarden::simulator::Ending;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The disk fault's control file in `dir`: `fill()` and `free()` it.
struct Disk(PathBuf);

impl Disk {
    /// The control file of `site`, or `None` (a loud skip) in a build without failpoints.
    fn of(site: &Site, test: &str) -> Option<Disk> {
        if !cfg!(feature = "failpoints") {
            crate::util::skipped(test, "build without the `failpoints` feature (scripts/test enables it)");
            return None;
        }
        Some(Disk(site.dir.path().join("disk-fault")))
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("NBWARDEN_FAILPOINT_DISK", self.0.to_str().unwrap())]
    }

    fn fill(&self) {
        std::fs::write(&self.0, "ENOSPC").unwrap();
    }

    fn read_only(&self) {
        std::fs::write(&self.0, "EROFS").unwrap();
    }

    fn free(&self) {
        std::fs::remove_file(&self.0).unwrap();
    }
}

async fn integrity(path: &std::path::Path) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let row: (String,) = sqlx::query_as("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
    pool.close().await;
    row.0
}

#[tokio::test]
async fn a_full_disk_fails_polls_clearly_and_loses_nothing() {
    let hook = HookServer::start(&[200]).await;
    let site = Site::start(super::SCENARIO, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.rules(&super::rules(&hook.url));
    let Some(disk) = Disk::of(&site, "a_full_disk_fails_polls_clearly_and_loses_nothing") else { return };
    let mut daemon = Daemon::start_with(&site.config_path, &disk.env());
    assert!(poll_until(10 * SECOND, || site.sim.stats().cancels.get("jrunaway") == Some(&1)).await, "{}", daemon.log());
    // The disk fills, then a job fails: the poll that sees it cannot be committed.
    disk.fill();
    site.sim.end_job("jlive", Ending::Failed);
    assert!(daemon.wait_for_log("could not commit the poll", 10 * SECOND).await, "{}", daemon.log());
    assert!(daemon.log().contains("No space left on device"), "the error says the disk is full\n{}", daemon.log());
    assert!(hook.received().is_empty(), "nothing is acted on from an uncommitted poll");
    disk.free();
    assert!(poll_until(10 * SECOND, || hook.received().len() == 1).await, "{}", daemon.log());
    tokio::time::sleep(2 * SECOND).await;
    assert_eq!(hook.received().len(), 1, "the notice went out once");
    daemon.assert_running();
    daemon.signal("TERM");
    daemon.wait_exit(15 * SECOND).await.expect("stops after SIGTERM");
    assert_eq!(integrity(&site.dir.path().join("state.db")).await, "ok");
}

#[tokio::test]
async fn a_read_only_state_file_is_a_clear_error_at_start() {
    let hook = HookServer::start(&[200]).await;
    let (site, mut first) = started("{ every: 1s, timeout: 2s }", &hook).await;
    first.signal("TERM");
    first.wait_exit(15 * SECOND).await.expect("stops");
    let Some(disk) = Disk::of(&site, "a_read_only_state_file_is_a_clear_error_at_start") else { return };
    disk.read_only();
    let state = site.dir.path().join("state.db");
    let out = site.run_env(&["once"], &disk.env()).await;
    let mut daemon = Daemon::start_with(&site.config_path, &disk.env());
    let status = daemon.wait_exit(10 * SECOND).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("state") && said.contains(state.to_str().unwrap()), "names the file: {said}");
    assert!(said.contains("Read-only file system"), "{said}");
    assert_eq!(status.and_then(|s| s.code()), Some(1), "run refuses to start\n{}", daemon.log());
    assert_eq!(integrity(&state).await, "ok");
}

/// A webhook receiver that answers 200 only when told to; counts the requests.
async fn held_hook() -> (String, Arc<AtomicU32>, Arc<tokio::sync::Notify>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (count, release) = (Arc::new(AtomicU32::new(0)), Arc::new(tokio::sync::Notify::new()));
    let (counted, released) = (count.clone(), release.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (counted, released) = (counted.clone(), released.clone());
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 16 * 1024];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buffer).await;
                counted.fetch_add(1, Ordering::SeqCst);
                released.notified().await;
                let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = tokio::io::AsyncWriteExt::write_all(&mut socket, ok).await;
            });
        }
    });
    (url, count, release)
}

#[tokio::test]
async fn an_outcome_the_store_refuses_is_kept_and_recorded_later_never_run_twice() {
    let (url, requests, release) = held_hook().await;
    let site = Site::start(super::SCENARIO, Flavor::Enterprise, None, "{ every: 1s, timeout: 2s }").await;
    site.rules(&format!("rules:\n  - {{ name: failures, on: status_changed, match: {{ to: failed }}, actions: [{{ type: webhook, url: '{url}', timeout: 60s }}] }}\n"));
    let test = "an_outcome_the_store_refuses_is_kept_and_recorded_later_never_run_twice";
    let Some(disk) = Disk::of(&site, test) else { return };
    let mut daemon = Daemon::start_with(&site.config_path, &disk.env());
    assert!(poll_until(10 * SECOND, || site.sim.stats().lists >= 2).await, "{}", daemon.log());
    site.sim.end_job("jlive", Ending::Failed);
    assert!(poll_until(10 * SECOND, || requests.load(Ordering::SeqCst) == 1).await, "{}", daemon.log());
    // The webhook is being delivered; now the disk fills, then the receiver answers.
    disk.fill();
    release.notify_waiters();
    assert!(daemon.wait_for_log("cannot record an action's outcome", 10 * SECOND).await, "{}", daemon.log());
    tokio::time::sleep(3 * SECOND).await;
    assert_eq!(requests.load(Ordering::SeqCst), 1, "kept in memory, not executed again");
    disk.free();
    assert!(
        daemon.wait_for_log("webhook done", 15 * SECOND).await,
        "recorded once the disk has room\n{}",
        daemon.log()
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1, "delivered exactly once");
    daemon.assert_running();
    daemon.signal("TERM");
    daemon.wait_exit(15 * SECOND).await.expect("stops");
    assert_eq!(integrity(&site.dir.path().join("state.db")).await, "ok");
}
