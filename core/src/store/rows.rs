//! Mapping between `keys` rows and [`KeyInfo`].

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::model::{KeyInfo, Metadata, RateLimit, Refill};
use crate::permissions::validate_grants;
use crate::time::duration_millis;
use crate::time::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use crate::Timestamp;

/// The columns every query selects, in `KeyRow::from_row` order. A macro,
/// so that queries built from it are string literals, not per-call `format!`s.
macro_rules! columns {
    () => {
        "id, prefix, hash, owner_id, name, permissions, metadata, enabled, \
         created_at, updated_at, expires_at, revoked_at, last_used_at, usage_count, remaining, \
         refill_amount, refill_interval_ms, last_refill_at, rate_limit, rate_window_ms, rate_tat, limit_source"
    };
}
pub(crate) use columns;

/// A stored key: its info plus what only the store sees.
#[derive(Clone, Debug)]
pub(crate) struct KeyRow {
    pub info: KeyInfo,
    pub hash: String,
    /// GCRA state, in units of 1/limit ms (see `ratelimit`).
    pub rate_tat: Option<i64>,
    /// The key whose credits and rate-limit state this key spends, while it
    /// is in the grace period after a roll (see `Keyhouse::roll`).
    pub limit_source: Option<String>,
}

impl KeyRow {
    /// Reads a row, refusing values no Keyhouse writes (a row edited by
    /// hand, or damaged): a corrupt row is a STORE_ERROR, never a panic or a
    /// silently different key.
    pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<KeyRow> {
        let ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
            r.get::<_, Option<i64>>(i)?.map(|ms| time(i, ms)).transpose()
        };
        // Parsed straight from SQLite's buffer, without an intermediate String.
        let permissions = r.get_ref(5)?.as_str()?;
        let metadata = r.get_ref(6)?.as_str()?;
        let refill = match (r.get::<_, Option<i64>>(15)?, r.get::<_, Option<i64>>(16)?) {
            (Some(amount), Some(ms)) if amount >= 0 => Some(Refill { amount, interval: window(16, ms)? }),
            (None, None) => None,
            _ => return Err(corrupt(15, "refill")),
        };
        let rate_limit = match (r.get::<_, Option<i64>>(18)?, r.get::<_, Option<i64>>(19)?) {
            (Some(limit), Some(ms)) => {
                let limit = u32::try_from(limit).ok().filter(|&l| (1..=MAX_RATE_LIMIT).contains(&l));
                Some(RateLimit { limit: limit.ok_or_else(|| corrupt(18, "rate_limit"))?, window: window(19, ms)? })
            }
            (None, None) => None,
            _ => return Err(corrupt(18, "rate_limit")),
        };
        let remaining: Option<i64> = r.get(14)?;
        if remaining.is_some_and(|n| n < 0) {
            return Err(corrupt(14, "remaining"));
        }
        let last_refill_at = ts(17)?;
        // A refill always comes with credits and a grid start.
        if refill.is_some() && (remaining.is_none() || last_refill_at.is_none()) {
            return Err(corrupt(15, "refill"));
        }
        // GCRA state exists only with a rate limit, and is a time (in units
        // of 1/limit ms) at most one window past the storable range.
        let rate_tat: Option<i64> = r.get(20)?;
        if let Some(tat) = rate_tat {
            let Some(rl) = rate_limit else { return Err(corrupt(20, "rate_tat")) };
            let ms = tat.div_euclid(i64::from(rl.limit));
            let latest = MAX_TIMESTAMP.as_millis().saturating_add(duration_millis(rl.window));
            if !(MIN_TIMESTAMP.as_millis()..=latest).contains(&ms) {
                return Err(corrupt(20, "rate_tat"));
            }
        }
        let permissions: Vec<String> = serde_json::from_str(permissions).map_err(|e| bad_json(5, e))?;
        // Grants Keyhouse would refuse (such as `files*`) must not widen a key.
        if validate_grants(&permissions).is_err() {
            return Err(corrupt(5, "permissions"));
        }
        let info = KeyInfo {
            id: r.get(0)?,
            prefix: r.get(1)?,
            owner_id: r.get(3)?,
            name: r.get(4)?,
            permissions,
            metadata: serde_json::from_str(metadata).map_err(|e| bad_json(6, e))?,
            enabled: r.get(7)?,
            created_at: time(8, r.get(8)?)?,
            updated_at: time(9, r.get(9)?)?,
            expires_at: ts(10)?,
            revoked_at: ts(11)?,
            last_used_at: ts(12)?,
            usage_count: u64::try_from(r.get::<_, i64>(13)?).map_err(|_| corrupt(13, "usage_count"))?,
            remaining,
            refill,
            last_refill_at,
            rate_limit,
        };
        Ok(KeyRow { info, hash: r.get(2)?, rate_tat, limit_source: r.get(21)? })
    }

    /// Writes every column of this row, inserting it if `insert`.
    pub(crate) fn save(&self, conn: &Connection, insert: bool) -> Result<()> {
        let i = &self.info;
        // Positional parameters, in `columns!()` order: binding by name costs a
        // lookup per parameter on every insert.
        let sql = if insert {
            "INSERT INTO keys (id, prefix, hash, owner_id, name, permissions, metadata, enabled, created_at, \
             updated_at, expires_at, revoked_at, last_used_at, usage_count, remaining, refill_amount, \
             refill_interval_ms, last_refill_at, rate_limit, rate_window_ms, rate_tat, limit_source) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
        } else {
            "UPDATE keys SET prefix = ?2, hash = ?3, owner_id = ?4, name = ?5, permissions = ?6, metadata = ?7, \
             enabled = ?8, created_at = ?9, updated_at = ?10, expires_at = ?11, revoked_at = ?12, \
             last_used_at = ?13, usage_count = ?14, remaining = ?15, refill_amount = ?16, \
             refill_interval_ms = ?17, last_refill_at = ?18, rate_limit = ?19, rate_window_ms = ?20, \
             rate_tat = ?21, limit_source = ?22 WHERE id = ?1"
        };
        let ms = |t: Option<Timestamp>| t.map(Timestamp::as_millis);
        let mut stmt = conn.prepare_cached(sql)?;
        stmt.execute(params![
            i.id,
            i.prefix,
            self.hash,
            i.owner_id,
            i.name,
            to_json(&i.permissions)?,
            to_json(&i.metadata)?,
            i.enabled,
            i.created_at.as_millis(),
            i.updated_at.as_millis(),
            ms(i.expires_at),
            ms(i.revoked_at),
            ms(i.last_used_at),
            i64::try_from(i.usage_count).unwrap_or(i64::MAX),
            i.remaining,
            i.refill.map(|r| r.amount),
            i.refill.map(|r| duration_millis(r.interval)),
            ms(i.last_refill_at),
            i.rate_limit.map(|r| i64::from(r.limit)),
            i.rate_limit.map(|r| duration_millis(r.window)),
            self.rate_tat,
            self.limit_source,
        ])?;
        Ok(())
    }
}

impl KeyRow {
    /// Shows the credits of `source`, the row whose balance this key spends
    /// during a roll's grace period, instead of its own emptied ones.
    pub(crate) fn show_balance_of(&mut self, source: &KeyRow) {
        self.info.remaining = source.info.remaining;
        self.info.refill = source.info.refill;
        self.info.last_refill_at = source.info.last_refill_at;
    }

    /// Writes only what a verify changes on a key whose limits live on
    /// another row: its usage and (after a pepper rotation) its hash.
    pub(crate) fn save_usage(&self, conn: &Connection) -> Result<()> {
        let sql = "UPDATE keys SET usage_count = ?2, last_used_at = ?3, hash = ?4 WHERE id = ?1";
        conn.prepare_cached(sql)?.execute(params![
            self.info.id,
            i64::try_from(self.info.usage_count).unwrap_or(i64::MAX),
            self.info.last_used_at.map(Timestamp::as_millis),
            self.hash,
        ])?;
        Ok(())
    }
}

/// The most requests a rate limit may allow per window.
pub(crate) const MAX_RATE_LIMIT: u32 = 1_000_000;
/// The longest rate-limit window or refill interval.
pub(crate) const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

/// Reads one key by id.
pub(crate) fn load(conn: &Connection, id: &str) -> Result<Option<KeyRow>> {
    let mut stmt = conn.prepare_cached(concat!("SELECT ", columns!(), " FROM keys WHERE id = ?1"))?;
    Ok(stmt.query_row([id], KeyRow::from_row).optional()?)
}

/// Reads one key by id, or fails with NOT_FOUND.
pub(crate) fn load_existing(conn: &Connection, id: &str) -> Result<KeyRow> {
    load(conn, id)?.ok_or_else(|| Error::NotFound(id.to_owned()))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Store(e.to_string()))
}

/// A stored time, which must lie in the range every binding can represent.
fn time(col: usize, ms: i64) -> rusqlite::Result<Timestamp> {
    let t = Timestamp::from_millis(ms);
    if t.in_range() {
        Ok(t)
    } else {
        Err(corrupt(col, "time"))
    }
}

/// A stored window or interval: 1 ms to 366 days, as the store accepts them.
fn window(col: usize, ms: i64) -> rusqlite::Result<Duration> {
    match u64::try_from(ms) {
        Ok(ms) if ms >= 1 && Duration::from_millis(ms) <= MAX_WINDOW => Ok(Duration::from_millis(ms)),
        _ => Err(corrupt(col, "window")),
    }
}

fn corrupt(col: usize, what: &str) -> rusqlite::Error {
    let msg = format!("stored {what} is out of range: the row was not written by Keyhouse");
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Integer, msg.into())
}

fn bad_json(col: usize, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
}

/// Ensures `metadata` fits the store's size bound.
pub(crate) fn validate_metadata(metadata: &Metadata) -> Result<()> {
    const MAX_METADATA_BYTES: usize = 16 * 1024;
    let len = serde_json::to_string(metadata).map(|s| s.len()).unwrap_or(usize::MAX);
    if len > MAX_METADATA_BYTES {
        return Err(Error::invalid(format!("metadata is {len} bytes as JSON; the limit is {MAX_METADATA_BYTES}")));
    }
    Ok(())
}
