//! Batched usage tracking.
//!
//! A verify of a key with no credits and no rate limit writes nothing. Its
//! `last_used_at` and `usage_count` collect here and are written together,
//! at most once per flush interval, and on `flush`/`close`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use super::id::Id;
use crate::error::Result;
use crate::model::KeyInfo;
use crate::Timestamp;

/// Keys whose usage one transaction of a flush writes. A transaction holds
/// SQLite's one write lock (on PostgreSQL, the rows' locks) until it
/// commits: usage of a million keys took 9–13 s to write here in one
/// transaction, and every other writer, in every process, would wait that
/// long (or fail with STORE_BUSY after `busy_timeout`). A chunk of this
/// size takes tens of milliseconds.
pub(crate) const FLUSH_CHUNK: usize = 5_000;

/// The longest pause between two transactions of a flush.
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// Usage of one key not yet written: how many verifies, and the latest.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pending {
    pub count: u64,
    pub last_used_at: i64,
    /// The key's row number (`KeyRow::seq`) as last read, which orders a
    /// flush. Only an order: the write finds the row by id.
    pub seq: i64,
}

/// Usage not yet written to the store.
#[derive(Debug)]
pub(crate) struct UsageBuffer {
    pending: Mutex<HashMap<Id, Pending>>,
    /// Held through a flush, so that flushes run one after another: a flush
    /// that returns has seen every earlier one end, and so every use counted
    /// before it began is written (the flush thread's and `Keyhouse::flush`
    /// may otherwise overlap, the second finding nothing left to take).
    flushing: Mutex<()>,
    next_flush_at: AtomicI64,
    interval_ms: i64,
}

impl UsageBuffer {
    pub(crate) fn new(now: Timestamp, interval_ms: i64) -> Self {
        UsageBuffer {
            pending: Mutex::new(HashMap::new()),
            flushing: Mutex::new(()),
            next_flush_at: AtomicI64::new(now.as_millis().saturating_add(interval_ms)),
            interval_ms,
        }
    }

    /// Counts one successful verification of `info` (whose row number is
    /// `seq`) at `now`, and shows it in `info`. True if no other usage was
    /// pending.
    pub(crate) fn record(&self, info: &mut KeyInfo, seq: i64, now: Timestamp) -> bool {
        let mut pending = self.lock();
        let first = pending.is_empty();
        let p = pending.entry(Id::new(&info.id)).or_default();
        p.seq = seq;
        p.count += 1;
        p.last_used_at = p.last_used_at.max(now.as_millis());
        apply(info, *p);
        first
    }

    /// Adds not-yet-written usage to `info`, so reads never look stale.
    pub(crate) fn overlay(&self, info: &mut KeyInfo) {
        if let Some(p) = self.lock().get(&Id::new(&info.id)) {
            apply(info, *p);
        }
    }

    /// Forgets pending usage of a deleted key.
    pub(crate) fn forget(&self, id: &str) {
        self.lock().remove(&Id::new(id));
    }

    /// Whether the flush interval has passed, without claiming the flush.
    pub(crate) fn is_due(&self, now: Timestamp) -> bool {
        now.as_millis() >= self.next_flush_at.load(Ordering::Relaxed)
    }

    /// How long from `now` until the flush interval has passed; at most one
    /// interval (a test's clock may stand still, or go back).
    pub(crate) fn due_in(&self, now: Timestamp) -> std::time::Duration {
        let ms = self.next_flush_at.load(Ordering::Relaxed).saturating_sub(now.as_millis());
        std::time::Duration::from_millis(u64::try_from(ms.clamp(0, self.interval_ms)).unwrap_or(0))
    }

    /// Whether the flush interval has passed. Claims the flush, so that of
    /// many threads asking at once only one answers yes.
    pub(crate) fn due(&self, now: Timestamp) -> bool {
        let next = self.next_flush_at.load(Ordering::Relaxed);
        now.as_millis() >= next
            && self
                .next_flush_at
                .compare_exchange(
                    next,
                    now.as_millis().saturating_add(self.interval_ms),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Hands all pending usage to `write`, in chunks of at most
    /// [`FLUSH_CHUNK`] keys, each of which `write` adds to the store in one
    /// transaction. The chunks follow the keys' row numbers, so that each
    /// one updates rows that lie together: a chunk of keys drawn at random
    /// from a million dirtied about a page per key, and SQLite wrote each
    /// of those pages to the WAL again at every commit. If a write fails or
    /// panics, its chunk and those not yet written are put back, to go out
    /// with the next flush. (A chunk whose
    /// COMMIT failed after reaching the database, say a PostgreSQL
    /// connection lost mid-commit, is then counted twice: usage counts err
    /// on the side of more, never less.)
    ///
    /// With `pause`, waits between two transactions for as long as the first
    /// one took (see [`MAX_PAUSE`]), for stores with one write lock.
    pub(crate) fn flush(&self, pause: bool, mut write: impl FnMut(&HashMap<Id, Pending>) -> Result<()>) -> Result<()> {
        // Guards nothing a panic could leave half-done: the counts are put back.
        let _flushing = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        let batch: HashMap<Id, Pending> = std::mem::take(&mut *self.lock());
        let mut rest = Vec::new().into_iter();
        let mut chunk = if batch.len() <= FLUSH_CHUNK {
            batch
        } else {
            let mut in_order: Vec<(Id, Pending)> = batch.into_iter().collect();
            in_order.sort_unstable_by_key(|(_, p)| p.seq);
            rest = in_order.into_iter();
            rest.by_ref().take(FLUSH_CHUNK).collect()
        };
        while !chunk.is_empty() {
            let started = std::time::Instant::now();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(&chunk))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    self.put_back(chunk.into_iter().chain(rest));
                    return Err(e);
                }
                Err(panic) => {
                    self.put_back(chunk.into_iter().chain(rest));
                    std::panic::resume_unwind(panic);
                }
            }
            if pause && rest.len() > 0 {
                // Leave the database's write lock free for as long as this
                // chunk held it: writers of other processes wait in SQLite's
                // busy handler, which polls (up to 100 ms apart), and would
                // rarely land in a gap of microseconds.
                std::thread::sleep(started.elapsed().min(MAX_PAUSE));
            }
            chunk = rest.by_ref().take(FLUSH_CHUNK).collect();
        }
        Ok(())
    }

    /// Adds counts that could not be written back to the pending ones.
    fn put_back(&self, unwritten: impl IntoIterator<Item = (Id, Pending)>) {
        let mut pending = self.lock();
        for (id, p) in unwritten {
            let cur = pending.entry(id).or_default();
            cur.count += p.count;
            cur.last_used_at = cur.last_used_at.max(p.last_used_at);
            cur.seq = p.seq;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Pending>> {
        // The map holds only counters; a panic elsewhere cannot leave it inconsistent.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Adds `p` to the usage shown in `info`.
pub(crate) fn apply(info: &mut KeyInfo, p: Pending) {
    info.usage_count += p.count;
    let last = Timestamp::from_millis(p.last_used_at);
    info.last_used_at = Some(info.last_used_at.map_or(last, |t| t.max(last)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn a_large_flush_writes_in_chunks_and_puts_back_only_what_was_not_written() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000);
        let n = 2 * FLUSH_CHUNK + 10;
        // Row numbers against the ids' order, and apart.
        let pending = |i: usize| Pending { count: 1, last_used_at: 5, seq: 3 * (n - i) as i64 };
        usage.lock().extend((0..n).map(|i| (Id::new(&i.to_string()), pending(i))));
        let (mut chunks, mut spans) = (Vec::new(), Vec::new());
        let failed = usage.flush(true, |chunk| {
            chunks.push(chunk.len());
            let seqs = || chunk.values().map(|p| p.seq);
            spans.push((seqs().min().unwrap(), seqs().max().unwrap()));
            match chunks.len() {
                2 => Err(Error::Store("the second transaction fails".into())),
                _ => Ok(()),
            }
        });
        assert!(failed.is_err());
        assert_eq!(chunks, [FLUSH_CHUNK, FLUSH_CHUNK]);
        // Each transaction writes the rows that lie together: the lowest row
        // numbers first.
        let width = 3 * (FLUSH_CHUNK as i64 - 1);
        assert_eq!(spans, [(3, 3 + width), (6 + width, 6 + 2 * width)]);
        // The first chunk was written; the failed one and the last are back.
        assert_eq!(usage.lock().len(), n - FLUSH_CHUNK);
        assert!(usage.lock().values().all(|p| p.count == 1 && p.last_used_at == 5));
        let mut written = 0;
        usage
            .flush(false, |chunk| {
                written += chunk.len();
                Ok(())
            })
            .unwrap();
        assert_eq!((written, usage.lock().len()), (n - FLUSH_CHUNK, 0));
    }

    #[test]
    fn a_flush_that_panics_puts_back_what_it_had_not_written() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000);
        let n = FLUSH_CHUNK + 1;
        usage.lock().extend((0..n).map(|i| (Id::new(&i.to_string()), Pending { count: 1, last_used_at: 5, seq: 0 })));
        let mut calls = 0;
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            usage.flush(false, |_| {
                calls += 1;
                if calls == 2 {
                    panic!("the second transaction panics");
                }
                Ok(())
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(usage.lock().len(), n - FLUSH_CHUNK);
    }

    #[test]
    fn a_small_flush_that_fails_puts_everything_back() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000);
        usage.lock().insert(Id::new("a"), Pending { count: 2, last_used_at: 7, seq: 1 });
        assert!(usage.flush(true, |_| Err(Error::Store("no".into()))).is_err());
        let p = usage.lock()[&Id::new("a")];
        assert_eq!((p.count, p.last_used_at), (2, 7));
    }
}
