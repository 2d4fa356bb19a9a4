//! Refused sign-ins per account, so that every process waits as long as the last one said.

use crate::arcgis::signin::{History, Refusal, RefusalKind};
use crate::clock::LocalMs;
use crate::store::Result;
use sqlx::{Any, Pool, Row};
use std::collections::HashMap;

/// The refusals of every account since its last successful sign-in.
pub(super) async fn load(pool: &Pool<Any>) -> Result<HashMap<String, History>> {
    let rows =
        sqlx::query("SELECT account, at_ms, kind, credentials, message FROM sign_in_refusals").fetch_all(pool).await?;
    let mut by_account: HashMap<String, Vec<Refusal>> = HashMap::new();
    for row in &rows {
        by_account.entry(row.try_get(0)?).or_default().push(Refusal {
            at: LocalMs(row.try_get(1)?),
            kind: RefusalKind::parse(&row.try_get::<String, _>(2)?),
            credentials: row.try_get::<i64, _>(3)? as u16,
            message: row.try_get(4)?,
        });
    }
    Ok(by_account.into_iter().map(|(account, refusals)| (account, History::from_refusals(refusals))).collect())
}

/// Records a refusal, or (`None`) forgets the account's refusals after a success.
pub(super) async fn record(pool: &Pool<Any>, account: &str, refusal: Option<&Refusal>) -> Result<()> {
    let Some(r) = refusal else {
        sqlx::query("DELETE FROM sign_in_refusals WHERE account = $1").bind(account).execute(pool).await?;
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO sign_in_refusals (account, at_ms, kind, credentials, message) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(account)
    .bind(r.at.0)
    .bind(r.kind.as_str())
    .bind(i64::from(r.credentials))
    .bind(&r.message)
    .execute(pool)
    .await?;
    Ok(())
}
