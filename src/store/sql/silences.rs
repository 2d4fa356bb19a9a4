//! Silences in the state store, on both backends: added and expired by `nbwarden silence`, read by
//! the daemon at each poll (no reload). An expired silence keeps its row, ended when it was
//! expired, until pruning removes it with the audit trail.

use super::SqlStore;
use crate::clock::LocalMs;
use crate::silence::Silence;
use crate::store::Result;
use sqlx::Row;

impl SqlStore {
    /// Every silence that has not ended before `since`, newest first.
    pub async fn silences(&self, since: LocalMs) -> Result<Vec<Silence>> {
        let rows = sqlx::query(
            "SELECT id, matchers, starts_ms, ends_ms, comment, author FROM silences WHERE ends_ms >= $1 ORDER BY starts_ms DESC",
        )
        .bind(since.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Silence {
                    id: row.try_get(0)?,
                    matchers: serde_json::from_str(&row.try_get::<String, _>(1)?)?,
                    starts: LocalMs(row.try_get(2)?),
                    ends: LocalMs(row.try_get(3)?),
                    comment: row.try_get(4)?,
                    author: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// Keeps a new silence.
    pub async fn add_silence(&self, silence: &Silence) -> Result<()> {
        sqlx::query(
            "INSERT INTO silences (id, matchers, starts_ms, ends_ms, comment, author) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&silence.id)
        .bind(serde_json::to_string(&silence.matchers)?)
        .bind(silence.starts.0)
        .bind(silence.ends.0)
        .bind(&silence.comment)
        .bind(&silence.author)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends silence `id` at `now`; false when there is no such silence in force.
    pub async fn expire_silence(&self, id: &str, now: LocalMs) -> Result<bool> {
        let done = sqlx::query("UPDATE silences SET ends_ms = $2 WHERE id = $1 AND ends_ms > $2")
            .bind(id)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
