//! The PostgreSQL server of `scripts/test` (`NBWARDEN_TEST_POSTGRES_URL`): a database per test
//! (`tests/shared/postgres.rs`), or a private server (`scripts/postgres`) for a test that restarts it.

use super::skipped;
use sqlx::Connection;

#[path = "../shared/postgres.rs"]
mod shared;
pub use shared::{fresh_database, url};

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
