//! Pruning by `state.retention`, each column on its own clock (see `Cutoff`). A job's ledger
//! entries go together, once its newest firing is older than the cut and it is no longer listed:
//! the rule the daemon's in-memory ledger follows too.

use crate::store::{Cutoff, Result};
use sqlx::{Any, AssertSqlSafe, Pool};

/// The rows of one target (or, with `None`, of every target not named in the cutoff).
const HISTORY: &str = "DELETE FROM jobs WHERE listed = 0 AND updated_ms < $1";
const LEDGER: &str = "DELETE FROM ledger AS t WHERE NOT EXISTS (
        SELECT 1 FROM jobs j WHERE j.scope = t.scope AND j.target = t.target AND j.job_id = t.job_id AND j.listed = 1)
    AND NOT EXISTS (
        SELECT 1 FROM ledger l WHERE l.scope = t.scope AND l.target = t.target AND l.rule = t.rule
            AND l.job_id = t.job_id AND l.fired_ms >= $1)";

/// Prunes history, ledger, audit and finished actions; returns the rows removed.
pub(super) async fn run(pool: &Pool<Any>, cutoff: &Cutoff) -> Result<u64> {
    let mut removed = 0;
    let named: Vec<&str> = cutoff.servers.iter().map(|(t, _)| t.as_str()).collect();
    for (target, before) in &cutoff.servers {
        for sql in [HISTORY, LEDGER] {
            let sql = format!("{sql} AND target = $2");
            removed += sqlx::query(AssertSqlSafe(sql)).bind(before).bind(target).execute(pool).await?.rows_affected();
        }
    }
    // Targets no longer configured: this machine's clock is the best there is.
    let others = if named.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = named.iter().map(|t| format!("'{}'", t.replace('\'', "''"))).collect();
        format!(" AND target NOT IN ({})", quoted.join(", "))
    };
    let statements = [
        format!("{HISTORY}{others}"),
        format!("{LEDGER}{others}"),
        "DELETE FROM audit WHERE at_ms < $1".to_string(),
        "DELETE FROM actions WHERE status <> 'pending' AND updated_ms < $1".to_string(),
    ];
    for sql in statements {
        removed += sqlx::query(AssertSqlSafe(sql)).bind(cutoff.local_ms).execute(pool).await?.rows_affected();
    }
    Ok(removed)
}
