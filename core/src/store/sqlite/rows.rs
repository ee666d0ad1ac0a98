//! Mapping between stored keys and [`KeyInfo`].
//!
//! A key is two rows: what it is (`keys`: id, hash, owner, permissions,
//! limits as configured), and what using it changes (`key_state`: usage and
//! the state of its credits and rate limit). A verify that counts usage or
//! spends a credit then rewrites one narrow row, never the wide one or any
//! index on it.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::cache::{Change, LogRead};
use crate::error::Result;
use crate::store::row::{to_json, KeyRow, StoredKey};
use crate::time::duration_millis;
use crate::Timestamp;

/// `SELECT` of every column of a key, in `KeyRow::from_row` order, from both
/// its tables. A macro, so that queries built from it are string literals,
/// not per-call `format!`s. The join is outer: a key whose state row is
/// missing (deleted by another tool) reads as a STORE_ERROR, not as no key.
macro_rules! select_keys {
    () => {
        concat!(
            "SELECT ",
            $crate::store::sqlite::rows::key_columns!(),
            " FROM keys k LEFT JOIN key_state s ON s.seq = k.seq"
        )
    };
}
pub(crate) use select_keys;

/// The columns of [`select_keys`].
macro_rules! key_columns {
    () => {
        "k.id, k.prefix, k.hash, k.owner_id, k.name, k.permissions, k.metadata, k.enabled, \
         k.created_at, k.updated_at, k.expires_at, k.revoked_at, s.last_used_at, s.usage_count, s.remaining, \
         k.refill_amount, k.refill_interval_ms, s.last_refill_at, k.rate_limit, k.rate_window_ms, s.rate_tat, \
         k.limit_source, k.seq, s.limit_epoch"
    };
}
pub(crate) use key_columns;

impl KeyRow {
    /// Reads a row; values no Keyhouse writes are refused by `KeyRow::from_stored`.
    pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<KeyRow> {
        let stored = StoredKey {
            id: r.get(0)?,
            prefix: r.get(1)?,
            hash: r.get(2)?,
            owner_id: r.get(3)?,
            name: r.get(4)?,
            // Parsed straight from SQLite's buffer, without an intermediate String.
            permissions: r.get_ref(5)?.as_str()?,
            metadata: r.get_ref(6)?.as_str()?,
            enabled: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
            expires_at: r.get(10)?,
            revoked_at: r.get(11)?,
            last_used_at: r.get(12)?,
            usage_count: r.get(13)?,
            remaining: r.get(14)?,
            refill_amount: r.get(15)?,
            refill_interval_ms: r.get(16)?,
            last_refill_at: r.get(17)?,
            rate_limit: r.get(18)?,
            rate_window_ms: r.get(19)?,
            rate_tat: r.get(20)?,
            limit_source: r.get(21)?,
            seq: r.get(22)?,
            version: 0,
            // NULL only without a state row, which `from_stored` refuses.
            limit_epoch: r.get::<_, Option<i64>>(23)?.unwrap_or(0),
        };
        KeyRow::from_stored(stored).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.to_string().into())
        })
    }

    /// Writes both rows of this key, inserting them if `insert`.
    pub(crate) fn save(&self, conn: &Connection, insert: bool) -> Result<()> {
        let i = &self.info;
        // Positional parameters: binding by name costs a lookup per
        // parameter on every insert.
        let sql = if insert {
            "INSERT INTO keys (id, prefix, hash, owner_id, name, permissions, metadata, enabled, created_at, \
             updated_at, expires_at, revoked_at, refill_amount, refill_interval_ms, rate_limit, rate_window_ms, \
             limit_source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        } else {
            "UPDATE keys SET prefix = ?2, hash = ?3, owner_id = ?4, name = ?5, permissions = ?6, metadata = ?7, \
             enabled = ?8, created_at = ?9, updated_at = ?10, expires_at = ?11, revoked_at = ?12, \
             refill_amount = ?13, refill_interval_ms = ?14, rate_limit = ?15, rate_window_ms = ?16, \
             limit_source = ?17 WHERE id = ?1"
        };
        let ms = |t: Option<Timestamp>| t.map(Timestamp::as_millis);
        conn.prepare_cached(sql)?.execute(params![
            i.id,
            i.prefix,
            self.hash.text(),
            i.owner_id,
            i.name,
            to_json(&i.permissions)?,
            i.metadata.as_json(),
            i.enabled,
            i.created_at.as_millis(),
            i.updated_at.as_millis(),
            ms(i.expires_at),
            ms(i.revoked_at),
            i.refill.map(|r| r.amount),
            i.refill.map(|r| duration_millis(r.interval)),
            i.rate_limit.map(|r| i64::from(r.limit)),
            i.rate_limit.map(|r| duration_millis(r.window)),
            self.limit_source,
        ])?;
        if insert {
            self.write_state(conn, conn.last_insert_rowid(), true)
        } else {
            self.save_state(conn)
        }
    }

    /// Writes what using the key changes: usage, credits, refill grid and
    /// GCRA state. One narrow row, and no index on it changes.
    pub(crate) fn save_state(&self, conn: &Connection) -> Result<()> {
        self.write_state(conn, self.seq, false)
    }

    fn write_state(&self, conn: &Connection, seq: i64, insert: bool) -> Result<()> {
        let i = &self.info;
        let sql = if insert {
            // OR REPLACE: a state row left behind by a delete that skipped the
            // trigger (another tool's REPLACE) must not block every later create.
            "INSERT OR REPLACE INTO key_state (seq, usage_count, last_used_at, remaining, last_refill_at, rate_tat, \
             limit_epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        } else {
            "UPDATE key_state SET usage_count = ?2, last_used_at = ?3, remaining = ?4, last_refill_at = ?5, \
             rate_tat = ?6, limit_epoch = ?7 WHERE seq = ?1"
        };
        conn.prepare_cached(sql)?.execute(params![
            seq,
            i64::try_from(i.usage_count).unwrap_or(i64::MAX),
            i.last_used_at.map(Timestamp::as_millis),
            i.remaining,
            i.last_refill_at.map(Timestamp::as_millis),
            self.rate_tat,
            self.limit_epoch,
        ])?;
        Ok(())
    }
}

impl KeyRow {
    /// Writes only the usage of a key whose limits live on another row.
    pub(crate) fn save_usage(&self, conn: &Connection) -> Result<()> {
        let sql = "UPDATE key_state SET usage_count = ?2, last_used_at = ?3 WHERE seq = ?1";
        conn.prepare_cached(sql)?.execute(params![
            self.seq,
            i64::try_from(self.info.usage_count).unwrap_or(i64::MAX),
            self.info.last_used_at.map(Timestamp::as_millis),
        ])?;
        Ok(())
    }
}

/// Reads one key by id.
pub(crate) fn load(conn: &Connection, id: &str) -> Result<Option<KeyRow>> {
    // Not `WHERE k.id = ?1`: SQLite 3.54 plans a join with a `column = ?`
    // term again whenever its bindings are cleared, which rusqlite's
    // statement cache does after every use, so each verify would parse the
    // query anew (about half its time). The id lookup in a subquery of one
    // table gives the same plan (id index, then two rowid lookups) and keeps it.
    let mut stmt =
        conn.prepare_cached(concat!(select_keys!(), " WHERE k.seq = (SELECT seq FROM keys WHERE id = ?1)"))?;
    Ok(stmt.query_row([id], KeyRow::from_row).optional()?)
}

/// Reads one key by id for the verify cache, with the newest position in
/// the change log in the same statement, so in the same snapshot.
pub(crate) fn load_logged(conn: &Connection, id: &str) -> Result<(Option<KeyRow>, Option<i64>)> {
    // As in `load`, the id lookup stays in a subquery.
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        key_columns!(),
        ", (SELECT max(n) FROM key_changes) FROM keys k LEFT JOIN key_state s ON s.seq = k.seq \
         WHERE k.seq = (SELECT seq FROM keys WHERE id = ?1)"
    ))?;
    let found = stmt.query_row([id], |r| Ok((KeyRow::from_row(r)?, r.get::<_, Option<i64>>(24)?))).optional()?;
    Ok(found.map_or((None, None), |(row, at)| (Some(row), at)))
}

/// The names of the triggers that write the change log (schema version 5).
const LOG_TRIGGERS: &str = "'keys_log_replace', 'keys_log_update', 'keys_log_delete', 'keys_log_reseq_update', \
    'key_state_log_update', 'key_state_log_delete'";

/// What the verify cache reads to catch up: the schema's version, whether
/// every trigger that writes the change log is there (asked only when the
/// version differs from `known_schema`), and the log's entries from
/// position `from` on, in order (see `cache`).
pub(crate) fn read_log(conn: &Connection, from: i64, known_schema: Option<i64>) -> Result<LogRead> {
    // One statement, so one read transaction: the schema version comes with
    // the entries (an outer join keeps it when there are none).
    let mut stmt = conn.prepare_cached(
        "SELECT v.schema_version, c.n, c.id, c.tag FROM pragma_schema_version v \
         LEFT JOIN key_changes c ON c.n >= ?1 ORDER BY c.n",
    )?;
    let mut schema = 0;
    let mut changes = Vec::new();
    let mut rows = stmt.query([from])?;
    while let Some(r) = rows.next()? {
        schema = r.get(0)?;
        if let Some(n) = r.get::<_, Option<i64>>(1)? {
            changes.push(Change { n, id: r.get(2)?, tag: r.get(3)? });
        }
    }
    let triggers = if known_schema == Some(schema) {
        None
    } else {
        let sql = format!("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name IN ({LOG_TRIGGERS})");
        let n: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
        Some(n == LOG_TRIGGERS.split(',').count() as i64)
    };
    Ok(LogRead { schema, triggers, changes })
}
