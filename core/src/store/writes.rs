//! This process's writes as the verify caches of both backends count them.
//!
//! A cache adds what this process wrote (usage, spent state) to the rows it
//! holds when the write ends. A row read from the store while a write ran
//! may or may not hold it already, so the cache does not keep that row: it
//! takes [`Writes::snapshot`] before the read, and keeps the row only if
//! [`Writes::none_since`] that snapshot, asked under the lock of its rows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::clock::Clock;

/// The writes begun so far, and those ended (stored under the rows lock).
/// They run one at a time.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    begun: AtomicU64,
    ended: AtomicU64,
}

impl Writes {
    /// Call before a write begins; end it with [`Writing::end`] under the
    /// lock of `rows`, once they took what it wrote. If the write panics
    /// instead, dropping the [`Writing`] ends it as one that committed
    /// nothing, so the cache does not take every later read as racing a
    /// write and stop keeping rows.
    pub(crate) fn begin<'a, S>(&'a self, rows: &'a Mutex<Clock<S>>) -> Writing<'a, S> {
        Writing { writes: self, rows, number: self.begun.fetch_add(1, Ordering::AcqRel) + 1 }
    }

    /// Take before a read: the writes ended so far. A write in progress now
    /// has begun and not ended, so `none_since` already finds it.
    pub(crate) fn snapshot(&self) -> u64 {
        self.ended.load(Ordering::Acquire)
    }

    /// Whether no write was running at `snapshot`, nor began since.
    pub(crate) fn none_since(&self, snapshot: u64) -> bool {
        self.begun.load(Ordering::Acquire) == snapshot
    }
}

/// A write of this process, begun and not yet ended.
pub(crate) struct Writing<'a, S> {
    writes: &'a Writes,
    rows: &'a Mutex<Clock<S>>,
    number: u64,
}

impl<S> Writing<'_, S> {
    /// Its number: the count of writes begun, this one included.
    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    /// Ends the write. Call holding the lock of the rows.
    pub(crate) fn end(self) {
        self.writes.ended.store(self.number, Ordering::Release);
        std::mem::forget(self);
    }
}

impl<S> Drop for Writing<'_, S> {
    /// Reached only when the write, or the cache's bookkeeping after it,
    /// unwinds: the write is over either way.
    fn drop(&mut self) {
        // Only cached copies live there; a panic elsewhere cannot corrupt them.
        let _rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        self.writes.ended.store(self.number, Ordering::Release);
    }
}
