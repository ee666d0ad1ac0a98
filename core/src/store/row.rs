//! A stored key as every backend holds it.

use std::time::Duration;

use super::checks::{MAX_RATE_LIMIT, MAX_WINDOW};
use super::id::Id;
use super::row_info::{MetadataText, RowInfo};
use super::usage::UsageSlot;
use crate::error::{Error, Result};
use crate::hashing::RowHash;
use crate::model::{KeyInfo, Metadata, RateLimit, Refill};
use crate::permissions::validate_grants;
use crate::time::{duration_millis, MAX_TIMESTAMP, MIN_TIMESTAMP};
use crate::Timestamp;

/// A stored key: its info plus what only the store sees.
#[derive(Clone, Debug)]
pub(crate) struct KeyRow {
    pub info: RowInfo,
    pub hash: RowHash,
    /// `info.prefix` again, held in the row itself (see `prefix`). Private,
    /// so that only `KeyRow::new` sets it.
    prefix_in_place: Id,
    /// GCRA state, in units of 1/limit ms (see `ratelimit`).
    pub rate_tat: Option<i64>,
    /// The key whose credits and rate-limit state this key spends, while it
    /// is in the grace period after a roll (see `Keyhouse::roll`).
    pub limit_source: Option<String>,
    /// The row's number in `keys`, which names its `key_state` row; 0 until inserted.
    pub seq: i64,
    /// How often the key's settings have been rewritten, where the backend
    /// counts it (PostgreSQL, whose spends compare it; 0 on SQLite).
    pub version: i64,
    /// How often the key's limits were set by `update` or `roll`: a lease
    /// taken under another count is neither spent nor returned (see `lease`).
    pub limit_epoch: i64,
    /// Where verifies of this row, once it is cached, count its uses (see
    /// `usage`); a copy of the row starts a cell of its own.
    pub usage: UsageSlot,
}

impl KeyRow {
    /// Takes what using the key changes (its `key_state` row) from `other`,
    /// a later read of the same key.
    pub(crate) fn take_state(&mut self, other: &KeyRow) {
        self.info.usage_count = other.info.usage_count;
        self.info.last_used_at = other.info.last_used_at;
        self.info.remaining = other.info.remaining;
        self.info.last_refill_at = other.info.last_refill_at;
        self.rate_tat = other.rate_tat;
        self.limit_epoch = other.limit_epoch;
    }

    /// Shows the credits of `source`, the row whose balance this key spends
    /// during a roll's grace period, instead of its own emptied ones.
    pub(crate) fn show_balance_of(&mut self, source: &KeyRow) {
        self.info.remaining = source.info.remaining;
        self.info.refill = source.info.refill;
        self.info.last_refill_at = source.info.last_refill_at;
    }
}

/// The columns of a stored key, as both backends hold them: times in ms
/// since the epoch, windows in ms, permissions and metadata as JSON text.
pub(crate) struct StoredKey<'a> {
    pub id: String,
    pub prefix: String,
    pub hash: String,
    pub owner_id: Option<String>,
    pub name: Option<String>,
    pub permissions: &'a str,
    pub metadata: &'a str,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub usage_count: i64,
    pub remaining: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refill_interval_ms: Option<i64>,
    pub last_refill_at: Option<i64>,
    pub rate_limit: Option<i64>,
    pub rate_window_ms: Option<i64>,
    pub rate_tat: Option<i64>,
    pub limit_source: Option<String>,
    pub seq: i64,
    pub version: i64,
    pub limit_epoch: i64,
}

impl KeyRow {
    /// Reads a stored key, refusing values no Keyhouse writes (a row edited
    /// by hand, or damaged): a corrupt row is a STORE_ERROR, never a panic
    /// or a silently different key.
    pub(crate) fn from_stored(s: StoredKey<'_>) -> Result<KeyRow> {
        let ts = |ms: Option<i64>, what: &str| ms.map(|ms| time(ms, what)).transpose();
        let refill = match (s.refill_amount, s.refill_interval_ms) {
            (Some(amount), Some(ms)) if amount >= 0 => Some(Refill { amount, interval: window(ms, "refill")? }),
            (None, None) => None,
            _ => return Err(corrupt("refill")),
        };
        let rate_limit = match (s.rate_limit, s.rate_window_ms) {
            (Some(limit), Some(ms)) => {
                let limit = u32::try_from(limit).ok().filter(|&l| (1..=MAX_RATE_LIMIT).contains(&l));
                Some(RateLimit {
                    limit: limit.ok_or_else(|| corrupt("rate_limit"))?,
                    window: window(ms, "rate_limit")?,
                })
            }
            (None, None) => None,
            _ => return Err(corrupt("rate_limit")),
        };
        if s.remaining.is_some_and(|n| n < 0) {
            return Err(corrupt("remaining"));
        }
        let last_refill_at = ts(s.last_refill_at, "last_refill_at")?;
        // A refill always comes with credits and a grid start.
        if refill.is_some() && (s.remaining.is_none() || last_refill_at.is_none()) {
            return Err(corrupt("refill"));
        }
        // GCRA state exists only with a rate limit, and is a time (in units
        // of 1/limit ms) at most one window past the storable range.
        if let Some(tat) = s.rate_tat {
            let Some(rl) = rate_limit else { return Err(corrupt("rate_tat")) };
            let ms = tat.div_euclid(i64::from(rl.limit));
            let latest = MAX_TIMESTAMP.as_millis().saturating_add(duration_millis(rl.window));
            if !(MIN_TIMESTAMP.as_millis()..=latest).contains(&ms) {
                return Err(corrupt("rate_tat"));
            }
        }
        let permissions: Vec<String> = serde_json::from_str(s.permissions).map_err(|e| bad_json("permissions", e))?;
        // Grants Keyhouse would refuse (such as `files*`) must not widen a key.
        if validate_grants(&permissions).is_err() {
            return Err(corrupt("permissions"));
        }
        let metadata = MetadataText::from_stored(s.metadata)?;
        let info = KeyInfo {
            id: s.id,
            prefix: s.prefix,
            owner_id: s.owner_id,
            name: s.name,
            permissions,
            metadata: Metadata::new(),
            enabled: s.enabled,
            created_at: time(s.created_at, "created_at")?,
            updated_at: time(s.updated_at, "updated_at")?,
            expires_at: ts(s.expires_at, "expires_at")?,
            revoked_at: ts(s.revoked_at, "revoked_at")?,
            last_used_at: ts(s.last_used_at, "last_used_at")?,
            usage_count: u64::try_from(s.usage_count).map_err(|_| corrupt("usage_count"))?,
            remaining: s.remaining,
            refill,
            last_refill_at,
            rate_limit,
        };
        let mut row = KeyRow::new(info, RowHash::new(s.hash));
        row.info.metadata = metadata;
        (row.rate_tat, row.limit_source, row.seq, row.version, row.limit_epoch) =
            (s.rate_tat, s.limit_source, s.seq, s.version, s.limit_epoch);
        Ok(row)
    }

    /// The key's prefix, compared by every verify: read from a copy in the
    /// row itself, not through the `String`'s pointer, which with a million
    /// keys cached is a cache miss of its own on every verify. No operation
    /// changes a key's prefix, and nothing replaces a row's `info` whole,
    /// so the copy made by `new` stays right.
    pub(crate) fn prefix(&self) -> &str {
        debug_assert_eq!(self.prefix_in_place.as_str(), self.info.prefix);
        self.prefix_in_place.as_str()
    }

    /// A row of `info` with `hash`, before anything about it is stored.
    pub(crate) fn new(info: KeyInfo, hash: RowHash) -> KeyRow {
        KeyRow {
            prefix_in_place: Id::new(&info.prefix),
            info: RowInfo::new(info),
            hash,
            rate_tat: None,
            limit_source: None,
            seq: 0,
            version: 0,
            limit_epoch: 0,
            usage: UsageSlot::default(),
        }
    }
}

#[cfg(test)]
impl KeyRow {
    /// A plain key `id` (no limits, no owner) with `usage` uses stored.
    pub(crate) fn for_tests(id: &str, usage: i64) -> KeyRow {
        let stored = StoredKey {
            id: id.into(),
            prefix: "kh".into(),
            hash: "h".into(),
            owner_id: None,
            name: None,
            permissions: "[]",
            metadata: "{}",
            enabled: true,
            created_at: 0,
            updated_at: 0,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            usage_count: usage,
            remaining: None,
            refill_amount: None,
            refill_interval_ms: None,
            last_refill_at: None,
            rate_limit: None,
            rate_window_ms: None,
            rate_tat: None,
            limit_source: None,
            seq: 1,
            version: 0,
            limit_epoch: 0,
        };
        KeyRow::from_stored(stored).expect("a plain row")
    }
}

/// A value as JSON text, for the permissions and metadata columns.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Store(e.to_string()))
}

/// A stored time, which must lie in the range every binding can represent.
fn time(ms: i64, what: &str) -> Result<Timestamp> {
    let t = Timestamp::from_millis(ms);
    if t.in_range() {
        Ok(t)
    } else {
        Err(corrupt(what))
    }
}

/// A stored window or interval: 1 ms to 366 days, as the store accepts them.
fn window(ms: i64, what: &str) -> Result<Duration> {
    match u64::try_from(ms) {
        Ok(ms) if ms >= 1 && Duration::from_millis(ms) <= MAX_WINDOW => Ok(Duration::from_millis(ms)),
        _ => Err(corrupt(what)),
    }
}

fn corrupt(what: &str) -> Error {
    Error::Store(format!("stored {what} is out of range: the row was not written by Keyhouse"))
}

pub(crate) fn bad_json(what: &str, e: serde_json::Error) -> Error {
    Error::Store(format!("stored {what} is not valid JSON: {e}"))
}
