//! The PostgreSQL server of `scripts/test` (`NBWARDEN_TEST_POSTGRES_URL`): a database per test,
//! or a private server (`scripts/postgres`) for a test that restarts it.

use sqlx::{Connection, Executor};
use std::sync::atomic::{AtomicU32, Ordering};

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
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let mut parsed = reqwest::Url::parse(server).unwrap();
    parsed.set_path(&name);
    parsed.to_string()
}

/// A PostgreSQL server of one test's own, stopped and removed on drop.
pub struct PrivateServer {
    /// Its URL (with the password).
    pub url: String,
    restart: String,
    stop: String,
}

impl PrivateServer {
    /// Starts one with `scripts/postgres`; `None` (skipped loudly) where none can be had.
    pub fn start(test: &str) -> Option<PrivateServer> {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres");
        let out = std::process::Command::new(script).output().expect("scripts/postgres runs");
        if !out.status.success() {
            super::skipped(test, &format!("no PostgreSQL server: {}", String::from_utf8_lossy(&out.stderr)));
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let value = |key: &str| {
            let line = text.lines().find(|l| l.starts_with(&format!("export {key}="))).expect(key);
            line.split_once('=').unwrap().1.to_string()
        };
        Some(PrivateServer {
            url: value("NBWARDEN_TEST_POSTGRES_URL"),
            restart: value("NBWARDEN_TEST_POSTGRES_RESTART"),
            stop: value("NBWARDEN_TEST_POSTGRES_STOP"),
        })
    }

    /// Restarts the server (every connection is cut).
    pub fn restart(&self) {
        assert!(std::process::Command::new(&self.restart).status().unwrap().success(), "the server restarts");
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.stop).status();
    }
}

/// Runs one query and returns the first column of each row as text.
pub async fn column(url: &str, sql: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(&mut conn).await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}
