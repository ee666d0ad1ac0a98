//! The verify cache of the PostgreSQL backend, with a staleness bound.
//!
//! Every change to a key bumps `epoch.n` and logs the key's id under the new
//! epoch, in the same transaction (triggers, see `schema`), and notifies the
//! store's channel. A process keeps the epoch it has caught up with. To
//! catch up, it reads the epoch, then the ids logged after the one it had,
//! and drops those rows; if the log no longer reaches back that far, it
//! drops everything.
//!
//! Catching up happens when the listener hears a notification (within
//! milliseconds of the commit), when it has heard nothing for a quarter of
//! `max_staleness` (lost notifications, a dropped connection), and after
//! each of this process's own writes (so it sees them on its next verify).
//! A verify trusts cached rows only while the last catch-up began less than
//! `max_staleness` ago. Past that it catches up itself, and if the server
//! cannot be reached it fails with STORE_ERROR: it never answers from rows
//! it can no longer vouch for.
//!
//! Usage is not logged: this process's usage flushes add what they wrote
//! to the rows it has cached (`usage_write_begins`/`usage_write_ends`), and
//! a row read while one runs is not kept, since it may or may not hold it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postgres::types::Type;
use postgres::GenericClient;

use super::connect::pg_error;
use super::Sql;
use crate::error::{Error, Result};
use crate::store::backend::{Found, Lookup, UsageBatch};
use crate::store::clock::Clock;
use crate::store::row::KeyRow;
use crate::store::usage;
use crate::store::writes::{Writes, Writing};

/// Unknown ids kept at most; a bound of their own, so that a flood of
/// made-up ids cannot push real rows out.
const MAX_MISSES: usize = 20_000;

/// Cached rows and the epoch they are good for.
pub(super) struct PgCache {
    rows: Mutex<Clock<()>>,
    misses: Mutex<Clock<()>>,
    /// Bumped before every invalidation, so a row read from the server
    /// while an invalidation ran is not cached (see `get_or_load`).
    generation: AtomicU64,
    /// This process's usage writes; they run one at a time (`UsageBuffer::flush`).
    usage_writes: Writes,
    /// The epoch caught up with; held while catching up, so catch-ups apply in order.
    epoch: Mutex<i64>,
    /// When the last successful catch-up began, in ns after `base`.
    confirmed: AtomicU64,
    base: Instant,
    max_staleness: Duration,
}

impl PgCache {
    /// A cache of at most `size` rows (`Config::verify_cache_size`; 0 keeps none).
    pub(super) fn new(epoch: i64, confirmed_at: Instant, max_staleness: Duration, size: u32) -> Self {
        PgCache {
            rows: Mutex::new(Clock::new(size as usize)),
            misses: Mutex::new(Clock::new(if size == 0 { 0 } else { MAX_MISSES })),
            generation: AtomicU64::new(0),
            usage_writes: Writes::default(),
            epoch: Mutex::new(epoch),
            confirmed: AtomicU64::new(0),
            base: confirmed_at,
            max_staleness,
        }
    }

    /// Whether cached rows may still be served without catching up first.
    pub(super) fn is_current(&self) -> bool {
        let confirmed = self.base + Duration::from_nanos(self.confirmed.load(Ordering::Acquire));
        confirmed.elapsed() < self.max_staleness
    }

    /// [`PgCache::catch_up`], unless another thread did while this one
    /// waited for the lock: verifies that find the bound passed all queue
    /// here, and one round trip serves them all.
    pub(super) fn catch_up_if_stale(&self, c: &mut impl GenericClient, sql: &Sql) -> Result<()> {
        let known = lock(&self.epoch);
        if self.is_current() {
            return Ok(());
        }
        self.catch_up_locked(c, sql, known)
    }

    /// Catches up with the server's changes through `c`.
    pub(super) fn catch_up(&self, c: &mut impl GenericClient, sql: &Sql) -> Result<()> {
        self.catch_up_locked(c, sql, lock(&self.epoch))
    }

    fn catch_up_locked(&self, c: &mut impl GenericClient, sql: &Sql, mut known: MutexGuard<'_, i64>) -> Result<()> {
        // Changes committed before this instant are all seen below.
        let started = Instant::now();
        let now: i64 = c.query_typed_one(&sql.epoch, &[]).map_err(pg_error)?.try_get(0).map_err(pg_error)?;
        if now != *known {
            let changes =
                c.query_typed(&sql.changes, &[(&*known, Type::INT8), (&now, Type::INT8)]).map_err(pg_error)?;
            let first: Option<i64> = changes.first().map(|r| r.try_get(0)).transpose().map_err(pg_error)?;
            let ids = changes.iter().map(|r| r.try_get::<_, Option<String>>(1)).collect::<Result<Vec<_>, _>>();
            let ids = ids.map_err(pg_error)?;
            self.generation.fetch_add(1, Ordering::AcqRel);
            // The log is pruned from the oldest end, and a reset server
            // (restored backup) may even go backwards: either way, what
            // changed is unknown, so nothing cached is trusted.
            if now < *known || first != Some(*known + 1) || ids.iter().any(Option::is_none) {
                lock_clock(&self.rows).clear();
                lock_clock(&self.misses).clear();
            } else {
                let (mut rows, mut misses) = (lock_clock(&self.rows), lock_clock(&self.misses));
                for id in ids.iter().flatten() {
                    rows.remove(id);
                    misses.remove(id);
                }
            }
            *known = now;
        }
        let ns = u64::try_from(started.duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        self.confirmed.fetch_max(ns, Ordering::AcqRel);
        Ok(())
    }

    /// The row with `id` from memory, or through `load` (whose answer is
    /// then kept, row or none). The caller has made sure the cache is current.
    pub(super) fn get_or_load(&self, id: &str, load: impl FnOnce() -> Result<Found>) -> Result<Lookup> {
        if let Some(hit) = self.get(id) {
            return Ok(hit);
        }
        let since = self.snapshot();
        let found = load()?;
        // Kept only if no invalidation began meanwhile: one that began
        // after the read started might have dropped this very id already.
        // Nor, for a row, if a usage write of this process ran meanwhile.
        let map = if found.is_some() { &self.rows } else { &self.misses };
        let mut clock = lock_clock(map);
        if self.unchanged(since, found.is_some()) {
            clock.put(id, (), found.clone());
        }
        Ok(Lookup { found, fresh: true })
    }

    /// The cached answer for `id`, row or none, if there is one.
    pub(super) fn get(&self, id: &str) -> Option<Lookup> {
        if let Some((found, _)) = lock_clock(&self.rows).get(id, &(), |_| false) {
            return Some(Lookup { found: found.clone(), fresh: true });
        }
        lock_clock(&self.misses).get(id, &(), |_| false).map(|_| Lookup { found: None, fresh: true })
    }

    /// The invalidations and usage writes so far; pass it to
    /// `update_state` later.
    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot { generation: self.generation.load(Ordering::Acquire), usage_writes: self.usage_writes.snapshot() }
    }

    /// Whether nothing was invalidated since `since`, nor (for a row) a
    /// usage write begun. Asked under the lock of the map the answer goes into.
    fn unchanged(&self, since: Snapshot, row: bool) -> bool {
        self.generation.load(Ordering::Acquire) == since.generation
            && (!row || self.usage_writes.none_since(since.usage_writes))
    }

    /// Replaces the cached copy of a key with `row` after a spend this
    /// process made, if the cache still holds the same settings of it and
    /// nothing was invalidated or written since `since` (taken before the
    /// spend): otherwise the row the spend began with may be older than
    /// what the cache holds now, and must not replace it.
    pub(super) fn update_state(&self, row: &KeyRow, since: Snapshot) {
        let mut rows = lock_clock(&self.rows);
        if !self.unchanged(since, true) {
            return;
        }
        let same = rows
            .get(&row.info.id, &(), |_| false)
            .and_then(|(found, _)| found.as_ref().map(|f| f.version == row.version && f.hash == row.hash));
        if same == Some(true) {
            rows.put(&row.info.id, (), Some(Arc::new(row.clone())));
        }
    }

    /// Call before this process writes a batch of usage; end it with
    /// [`PgCache::usage_write_ends`] (see [`Writes::begin`] for one that
    /// panics instead).
    pub(super) fn usage_write_begins(&self) -> Writing<'_, ()> {
        self.usage_writes.begin(&self.rows)
    }

    /// Ends a usage write. With the `batch` it committed, adds those counts
    /// to the cached rows, which were all read before it began and do not
    /// hold them (no row read while it ran was kept).
    pub(super) fn usage_write_ends(&self, ending: Writing<'_, ()>, committed: Option<&UsageBatch>) {
        let mut rows = lock_clock(&self.rows);
        for (id, p) in committed.into_iter().flatten() {
            if let Some((_, Some(row))) = rows.entry_mut(id.as_str()) {
                usage::apply(&mut Arc::make_mut(row).info, *p);
            }
        }
        ending.end();
    }

    /// Drops the cached copy of a key.
    pub(super) fn forget(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        lock_clock(&self.rows).remove(id);
        lock_clock(&self.misses).remove(id);
    }

    /// How many rows and unknown ids are held (for tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn len(&self) -> (usize, usize) {
        (lock_clock(&self.rows).len(), lock_clock(&self.misses).len())
    }
}

/// What the cache had seen when a read began (see [`PgCache::snapshot`]).
#[derive(Clone, Copy)]
pub(super) struct Snapshot {
    generation: u64,
    usage_writes: u64,
}

fn lock(m: &Mutex<i64>) -> MutexGuard<'_, i64> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_clock(m: &Mutex<Clock<()>>) -> MutexGuard<'_, Clock<()>> {
    // The map is consistent between calls; a panic elsewhere cannot break it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fails a verify that would have to trust rows older than the bound.
pub(super) fn stale_error(max_staleness: Duration, cause: Error) -> Error {
    Error::Store(format!(
        "cannot confirm cached keys are current (max_staleness {} ms): {cause}",
        max_staleness.as_millis()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::id::Id;
    use crate::store::usage::Pending;

    fn usage_of(cache: &PgCache, id: &str) -> Option<u64> {
        cache.get(id).and_then(|l| l.found).map(|row| row.info.usage_count)
    }

    #[test]
    fn a_usage_write_shows_in_cached_rows_and_rows_read_while_it_runs_are_not_kept() {
        let cache = PgCache::new(0, Instant::now(), Duration::from_secs(60), 10);
        let row = |usage| Ok(Some(Arc::new(KeyRow::for_tests("a", usage))));
        cache.get_or_load("a", || row(0)).unwrap();
        let batch: &UsageBatch = &[(Id::new("a"), Pending { count: 5, last_used_at: 9, seq: 1 })];
        let write = cache.usage_write_begins();
        // Read while the write runs: it may hold the write or not.
        cache.forget("a");
        assert_eq!(cache.get_or_load("a", || row(5)).unwrap().found.unwrap().info.usage_count, 5);
        assert_eq!(usage_of(&cache, "a"), None, "not kept");
        cache.usage_write_ends(write, Some(batch));
        cache.get_or_load("a", || row(5)).unwrap();
        assert_eq!(usage_of(&cache, "a"), Some(5), "read after the write: kept as read");
        // A row cached before a write gets its counts when it ends.
        let write = cache.usage_write_begins();
        cache.usage_write_ends(write, Some(batch));
        assert_eq!(usage_of(&cache, "a"), Some(10));
        // A spend that began before a write does not replace the row after it.
        let since = cache.snapshot();
        let write = cache.usage_write_begins();
        cache.usage_write_ends(write, None);
        cache.update_state(&KeyRow::for_tests("a", 7), since);
        assert_eq!(usage_of(&cache, "a"), Some(10));
        // A write that unwinds still ends.
        drop(cache.usage_write_begins());
        cache.forget("a");
        cache.get_or_load("a", || row(10)).unwrap();
        assert_eq!(usage_of(&cache, "a"), Some(10));
    }
}
