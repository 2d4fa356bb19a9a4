//! The notebook items read from Portal, per target: written as they are read (a cache, outside
//! the poll's transaction: an item read twice after a crash costs one call), loaded with the
//! target so that a restart reads none again.

use super::SqlStore;
use crate::arcgis::Item;
use crate::store::{Result, Scope};
use sqlx::Row;

impl SqlStore {
    /// Keeps what Portal said of each item (a later read of the same item replaces it).
    pub(super) async fn save_items_sql(&self, scope: Scope, target: &str, items: &[(String, Item)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, item) in items {
            sqlx::query(
                "INSERT INTO items (scope, target, item_id, item) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (scope, target, item_id) DO UPDATE SET item = excluded.item",
            )
            .bind(scope.as_str())
            .bind(target)
            .bind(id.as_str())
            .bind(serde_json::to_string(item)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The items kept for `target`.
    pub(super) async fn items(&self, scope: Scope, target: &str) -> Result<Vec<(String, Item)>> {
        let rows = sqlx::query("SELECT item_id, item FROM items WHERE scope = $1 AND target = $2")
            .bind(scope.as_str())
            .bind(target)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, serde_json::from_str(&row.try_get::<String, _>(1)?)?))).collect()
    }
}
