//! The SQL of one SQLite transaction.

use rusqlite::Connection;

use super::rows::{self, load};
use crate::error::Result;
use crate::model::ListOptions;
use crate::store::backend::Tx;
use crate::store::row::KeyRow;
use crate::Timestamp;

/// A transaction (or, for reads, a connection) of the SQLite backend. A
/// write transaction is `BEGIN IMMEDIATE`, so it holds the database's one
/// write lock from its first statement: every row it reads stays as read.
pub(super) struct SqliteTx<'c>(pub(super) &'c Connection, pub(super) Written);

/// What a transaction wrote to `key_state`, which the change log does not
/// record, for the verify cache to follow once it commits.
#[derive(Default)]
pub(super) struct Written {
    /// Rows whose whole state was written, as written.
    pub states: Vec<KeyRow>,
    /// Keys of which only the usage was written.
    pub usage: Vec<String>,
}

impl Tx for SqliteTx<'_> {
    fn load(&mut self, id: &str) -> Result<Option<KeyRow>> {
        load(self.0, id)
    }

    /// Row by row: SQLite statements are calls, not round trips.
    fn insert_many(&mut self, rows: &[&KeyRow], skip_existing: bool) -> Result<u64> {
        let mut n = 0;
        for row in rows {
            // Under the write lock, nothing can insert the id between the two.
            if skip_existing && load(self.0, &row.info.id)?.is_some() {
                continue;
            }
            row.save(self.0, true)?;
            n += 1;
        }
        Ok(n)
    }

    fn update(&mut self, row: &KeyRow) -> Result<()> {
        row.save(self.0, false)
    }

    fn save_state(&mut self, row: &KeyRow) -> Result<()> {
        row.save_state(self.0)?;
        self.1.states.push(row.clone());
        Ok(())
    }

    fn save_usage(&mut self, row: &KeyRow) -> Result<()> {
        row.save_usage(self.0)?;
        self.1.usage.push(row.info.id.clone());
        Ok(())
    }

    fn rehash(&mut self, id: &str, hash: &str) -> Result<()> {
        self.0.prepare_cached("UPDATE keys SET hash = ?2 WHERE id = ?1")?.execute([id, hash])?;
        Ok(())
    }

    /// Expired keys do not count towards `max_keys_per_owner`; they stay
    /// listed until `purge_expired`, but can never be used again.
    fn active_keys(&mut self, owner: &str, now: Timestamp) -> Result<u32> {
        let n: i64 = self
            .0
            .prepare_cached(
                "SELECT count(*) FROM keys WHERE owner_id = ?1 AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > ?2)",
            )?
            .query_row(rusqlite::params![owner, now.as_millis()], |r| r.get(0))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The state row goes with the key, by trigger.
    fn delete(&mut self, id: &str) -> Result<bool> {
        Ok(self.0.prepare_cached("DELETE FROM keys WHERE id = ?1")?.execute([id])? > 0)
    }

    fn purge_expired(&mut self, now: Timestamp) -> Result<u64> {
        let n = self
            .0
            .prepare_cached("DELETE FROM keys WHERE expires_at IS NOT NULL AND expires_at <= ?1")?
            .execute([now.as_millis()])?;
        Ok(n as u64)
    }

    fn relink_limit_source(&mut self, old: &str, new: &str) -> Result<()> {
        self.0.prepare_cached("UPDATE keys SET limit_source = ?2 WHERE limit_source = ?1")?.execute([old, new])?;
        Ok(())
    }

    fn list(&mut self, options: &ListOptions, after: Option<(i64, String)>) -> Result<Vec<KeyRow>> {
        let mut sql = String::from(concat!(rows::select_keys!(), " WHERE 1 = 1"));
        if options.owner_id.is_some() {
            sql.push_str(" AND k.owner_id = :owner");
        }
        if !options.include_revoked {
            sql.push_str(" AND k.revoked_at IS NULL");
        }
        if after.is_some() {
            sql.push_str(" AND (k.created_at, k.id) > (:after_t, :after_id)");
        }
        sql.push_str(" ORDER BY k.created_at, k.id LIMIT :limit");
        let mut stmt = self.0.prepare_cached(&sql)?;
        let limit = i64::from(options.limit) + 1;
        let mut params: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":limit", &limit)];
        if let Some(owner) = &options.owner_id {
            params.push((":owner", owner));
        }
        if let Some((t, id)) = &after {
            params.push((":after_t", t));
            params.push((":after_id", id));
        }
        let rows = stmt.query_map(params.as_slice(), KeyRow::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
