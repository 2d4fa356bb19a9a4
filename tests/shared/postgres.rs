//! The PostgreSQL server of `scripts/test` (`NBWARDEN_TEST_POSTGRES_URL`) and a fresh database on
//! it per test, for the unit tests (`crate::test_support`) and the integration tests (`util`).

use sqlx::{Connection, Executor, Row};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The test server's URL; without one, says loudly that `test` was skipped (a failure under CI).
pub fn url(test: &str) -> Option<String> {
    let url = std::env::var("NBWARDEN_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        super::skipped(test, "no PostgreSQL server (NBWARDEN_TEST_POSTGRES_URL is unset; scripts/test starts one)");
    }
    url
}

/// A new, empty database on the server at `server`; its URL.
pub async fn fresh_database(server: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    sqlx::any::install_default_drivers();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let name = format!("it_{}_{}_{stamp}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::AnyConnection::connect(server).await.expect("the test server answers");
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if !SWEPT.swap(true, Ordering::Relaxed) {
        drop_databases_of_ended_runs(&mut admin).await;
    }
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let mut parsed = reqwest::Url::parse(server).unwrap();
    parsed.set_path(&name);
    parsed.to_string()
}

/// Drops the databases of test processes that have ended, so that a server serving many runs (the
/// hundreds of `scripts/mutants`) does not fill the disk. Linux only: a process is alive while
/// `/proc/<pid>` exists.
async fn drop_databases_of_ended_runs(admin: &mut sqlx::AnyConnection) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let rows = sqlx::query("SELECT datname::text FROM pg_database WHERE datname LIKE 'it\\_%'")
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String, _>(0) else { continue };
        let pid = name.split('_').nth(1).unwrap_or_default();
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
        }
    }
}
