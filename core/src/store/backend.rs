//! The one internal interface between the backend-neutral store and the
//! databases behind it (`sqlite`, `postgres`).
//!
//! A backend owns its connections, its SQL and its verify cache. The rules
//! (what a key may do, how limits are spent, in which order checks run) stay
//! in the neutral part and in the pure modules `verify`, `ratelimit` and
//! `permissions`, so that both backends answer every request the same way.

use std::sync::Arc;

use super::id::Id;
use super::row::KeyRow;
use super::usage::{Pending, UsageBuffer};
use super::verifying::Spend;
use super::Keyhouse;
use crate::error::{Error, Result};
use crate::model::{ListOptions, VerifyResult};
use crate::Timestamp;

/// What a lookup found: a row, or no row with that id. Rows are shared, so
/// a hit costs a reference count, not a copy: a wrong secret is then turned
/// away as cheaply as an unknown id.
pub(crate) type Found = Option<Arc<KeyRow>>;

/// A lookup's answer, and whether it is fresh: what a read of the database
/// would return now (on PostgreSQL: within the staleness bound).
pub(crate) struct Lookup {
    pub found: Found,
    pub fresh: bool,
}

/// One transaction on a backend. In a write transaction, `load` locks the
/// row it reads until the transaction ends, so a read-modify-write of one
/// key cannot interleave with another.
pub(crate) trait Tx {
    /// Reads one key by id.
    fn load(&mut self, id: &str) -> Result<Option<KeyRow>>;
    /// Inserts keys (both rows of each); with `skip_existing`, leaves out
    /// those whose id is taken instead of failing. How many went in.
    fn insert_many(&mut self, rows: &[&KeyRow], skip_existing: bool) -> Result<u64>;
    /// Rewrites an existing key (both its rows).
    fn update(&mut self, row: &KeyRow) -> Result<()>;
    /// Rewrites only what using the key changes: usage, credits, refill and GCRA state.
    fn save_state(&mut self, row: &KeyRow) -> Result<()>;
    /// Rewrites only the usage of a key whose limits live on another row.
    fn save_usage(&mut self, row: &KeyRow) -> Result<()>;
    /// Replaces a key's hash with another hash of the same key.
    fn rehash(&mut self, id: &str, hash: &str) -> Result<()>;
    /// Keys of `owner` that can still verify: neither revoked nor expired.
    fn active_keys(&mut self, owner: &str, now: Timestamp) -> Result<u32>;
    /// Deletes a key and its state; whether it existed.
    fn delete(&mut self, id: &str) -> Result<bool>;
    /// Deletes every key expired at `now`; how many.
    fn purge_expired(&mut self, now: Timestamp) -> Result<u64>;
    /// Points every key that spent `old`'s limits at `new`'s instead.
    fn relink_limit_source(&mut self, old: &str, new: &str) -> Result<()>;
    /// One page of keys matching `options` (and one more, to tell whether a
    /// next page exists), oldest first, after the cursor position `after`.
    fn list(&mut self, options: &ListOptions, after: Option<(i64, String)>) -> Result<Vec<KeyRow>>;
}

impl dyn Tx + '_ {
    /// Inserts a new key (both its rows).
    pub(crate) fn insert(&mut self, row: &KeyRow) -> Result<()> {
        self.insert_many(&[row], false).map(drop)
    }

    /// Reads one key by id, or fails with NOT_FOUND.
    pub(crate) fn load_existing(&mut self, id: &str) -> Result<KeyRow> {
        self.load(id)?.ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// Shows on a key in its grace period after a roll the balance it
    /// spends: its replacement's, as `get`, `list` and `verify` all do.
    pub(crate) fn show_shared_balance(&mut self, row: &mut KeyRow) -> Result<()> {
        if let Some(src) = row.limit_source.as_deref().map(|s| self.load(s)).transpose()?.flatten() {
            row.show_balance_of(&src);
        }
        Ok(())
    }
}

/// A database behind a [`Keyhouse`].
pub(crate) trait Backend: Send + Sync {
    /// Runs `f` once in one transaction: a consistent read if not `write`,
    /// else a write transaction, committed if `f` succeeds and rolled back
    /// if it fails.
    fn transaction(&self, write: bool, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;

    /// The row for a verify, from the verify cache when it is fresh. A
    /// cached row that is not known to be fresh but that `stale_ok` accepts
    /// may be returned marked stale: the caller uses it only to choose a
    /// path that decides on fresh state.
    fn lookup(&self, id: &str, stale_ok: &dyn Fn(&KeyRow) -> bool) -> Result<Lookup>;

    /// [`Backend::lookup`] if it needs no I/O: the cache holds the id and
    /// may be trusted now; otherwise `None`.
    fn lookup_cached(&self, id: &str, stale_ok: &dyn Fn(&KeyRow) -> bool) -> Option<Lookup>;

    /// The consuming half of a verify, for a key with credits or a rate
    /// limit whose secret `spend.proved` has proved: decides and records
    /// the spend on fresh state, exactly, whatever else runs at once.
    fn spend(&self, kh: &Keyhouse, spend: Spend<'_>) -> Result<VerifyResult>;

    /// Drops the verify cache's copy of a key, fresh or not.
    fn forget(&self, id: &str);

    /// Writes the pending usage in `usage` now.
    fn flush(&self, usage: &UsageBuffer) -> Result<()>;

    /// Writes the pending usage in `usage`, then closes every connection.
    /// Later calls fail with CLOSED; if the write fails, nothing closes.
    fn close(&self, usage: &UsageBuffer) -> Result<()>;

    /// How many rows and unknown ids the verify cache holds, if there is one.
    #[cfg(test)]
    fn cache_len(&self) -> Option<(usize, usize)>;
}

impl dyn Backend + '_ {
    /// Runs `f` in a read transaction.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        self.run(false, f)
    }

    /// Runs `f` in a write transaction, committed if it succeeds.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        self.run(true, f)
    }

    fn run<T>(&self, write: bool, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.transaction(write, &mut |tx| {
            // A backend runs `f` once; a second call would be a bug there,
            // reported as an error rather than a panic across the FFI.
            let f = f.take().ok_or_else(|| Error::Store("a transaction body ran twice".into()))?;
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| Error::Store("a transaction committed without running its body".into()))
    }
}

/// A batch of pending usage, as `UsageBuffer::flush` hands it out: each
/// key once, in the order of their row numbers (`Pending::seq`).
pub(crate) type UsageBatch = [(Id, Pending)];
