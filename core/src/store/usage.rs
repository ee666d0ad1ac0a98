//! Batched usage tracking.
//!
//! A verify of a key with no credits and no rate limit writes nothing. Its
//! `last_used_at` and `usage_count` collect here and are written together,
//! at most once per flush interval, and on `flush`/`close`.
//!
//! Most such verifies answer from a cached row, and counting them in a map
//! keyed by id cost a lock and a lookup in a table as large as the keys in
//! use: with a million keys, two more cache misses per verify, about a
//! sixth of its time. So a row carries a [`UsageCell`] of its own (a small
//! allocation made with the row), and once the map has *armed* that cell
//! (handed it the key's count), verifies of the row count in the cell with
//! a few atomic operations and no lock. The map keeps the cell, not the
//! row, so that a flush finds it, and takes its count by disarming it; a
//! verify that finds its cell disarmed counts in the map instead, under its
//! lock, as every verify did before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::backend::UsageBatch;
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
    /// flush. Only a hint: a SQLite flush looks there first and takes the
    /// row only if it still holds this key's id, else finds it by id.
    pub seq: i64,
}

/// The state bit of an armed cell; the bits below it count uses.
const ARMED: u64 = 1 << 63;

/// Where verifies of one cached row count its uses while the usage map has
/// armed it (see the module's doc).
#[derive(Debug, Default)]
pub(crate) struct UsageCell {
    /// [`ARMED`], plus the uses counted since the cell was armed. Once the
    /// bit is clear, the count bits mean nothing: whoever arms the cell
    /// again stores them afresh.
    state: AtomicU64,
    /// The latest use counted here (ms), at least.
    last_used_at: AtomicI64,
    /// The key's uses the map held when it armed the cell, to show them.
    base: AtomicU64,
}

/// A row's [`UsageCell`]. A copy of a row gets a new, disarmed cell, so
/// that each cell counts for one row of one key (a roll copies a row to
/// make another key's).
#[derive(Debug, Default)]
pub(crate) struct UsageSlot(Arc<UsageCell>);

impl UsageSlot {
    pub(crate) fn cell(&self) -> &Arc<UsageCell> {
        &self.0
    }
}

impl Clone for UsageSlot {
    /// A new, disarmed cell: a copy of a row is another row.
    fn clone(&self) -> Self {
        UsageSlot::default()
    }
}

impl UsageCell {
    /// Counts a use at `now_ms` if the cell is armed, and returns the key's
    /// pending usage with it; `None` (nothing counted) if it is not. (The
    /// usage shown can lag for a moment while a flush takes the cell.)
    fn count(&self, now_ms: i64) -> Option<Pending> {
        // Before the count, which publishes it: whoever takes the count
        // (`take`, after its swap) sees this time too.
        self.last_used_at.fetch_max(now_ms, Ordering::AcqRel);
        let state = self.state.fetch_add(1, Ordering::AcqRel);
        (state & ARMED != 0).then(|| Pending {
            count: self.base.load(Ordering::Relaxed) + (state & !ARMED) + 1,
            last_used_at: self.last_used_at.load(Ordering::Acquire),
            seq: 0,
        })
    }

    /// Arms the cell with the key's pending usage `p`, uses counted from
    /// now on; false if it is armed already. Only under the map's lock.
    ///
    /// A cell found armed here is one a map that a flush has taken still
    /// holds: that flush takes the cell's count later, and arming it again
    /// now would drop the uses it counted, then hand it the uses meant for
    /// this map. Only this map arms cells, under this lock, so a cell not
    /// armed now stays so until the store below.
    fn arm(&self, p: &Pending) -> bool {
        if self.state.load(Ordering::Acquire) & ARMED != 0 {
            return false;
        }
        self.base.store(p.count, Ordering::Relaxed);
        self.last_used_at.fetch_max(p.last_used_at, Ordering::AcqRel);
        // Release: a verify that finds the cell armed sees `base` as set.
        // Whatever verifies added while it was disarmed is dropped here;
        // they each found it disarmed and counted in the map instead.
        self.state.store(ARMED, Ordering::Release);
        true
    }

    /// Disarms the cell and adds what it counted to `p`. Verifies that find
    /// it disarmed afterwards count in the map.
    fn take(&self, p: &mut Pending) {
        self.add_counted(self.state.swap(0, Ordering::AcqRel), p);
    }

    /// The uses counted since the cell was armed, and the latest, added to
    /// `p` without disarming it.
    fn peek(&self, p: &mut Pending) {
        self.add_counted(self.state.load(Ordering::Acquire), p);
    }

    /// Adds to `p` what the cell counted, as `state` (read from it) says,
    /// if it was armed then.
    fn add_counted(&self, state: u64, p: &mut Pending) {
        if state & ARMED != 0 {
            p.count += state & !ARMED;
            p.last_used_at = p.last_used_at.max(self.last_used_at.load(Ordering::Acquire));
        }
    }
}

/// The usage map's entry for one key.
#[derive(Debug, Default)]
struct Entry {
    /// Uses counted in the map, and those taken from cells disarmed since
    /// the last flush.
    counted: Pending,
    /// The cell that counts this key's uses now, if one is armed.
    armed: Option<Arc<UsageCell>>,
}

impl Entry {
    /// Disarms the entry's cell, if it has one, taking its count into
    /// `counted`; `armed` is the map's count of armed cells.
    fn disarm(&mut self, armed: &mut usize) {
        if let Some(cell) = self.armed.take() {
            cell.take(&mut self.counted);
            *armed -= 1;
        }
    }
}

/// The usage map, with how many of its entries have an armed cell.
#[derive(Debug, Default)]
struct Pendings {
    map: HashMap<Id, Entry>,
    armed: usize,
}

/// Usage not yet written to the store.
#[derive(Debug)]
pub(crate) struct UsageBuffer {
    pending: Mutex<Pendings>,
    /// Held through a flush, so that flushes run one after another: a flush
    /// that returns has seen every earlier one end, and so every use counted
    /// before it began is written (the flush thread's and `Keyhouse::flush`
    /// may otherwise overlap, the second finding nothing left to take).
    flushing: Mutex<()>,
    next_flush_at: AtomicI64,
    interval_ms: i64,
    /// The most cells the map keeps armed (`Config::verify_cache_size`).
    /// A cell stays armed until the next flush, or until another row of its
    /// key takes over, even once its row has left the cache; only the cell
    /// (48 bytes) stays in memory then, not the row.
    max_armed: usize,
}

impl UsageBuffer {
    /// A buffer that keeps at most `max_armed` cells armed.
    pub(crate) fn new(now: Timestamp, interval_ms: i64, max_armed: usize) -> Self {
        UsageBuffer {
            pending: Mutex::new(Pendings::default()),
            flushing: Mutex::new(()),
            next_flush_at: AtomicI64::new(now.as_millis().saturating_add(interval_ms)),
            interval_ms,
            max_armed,
        }
    }

    /// Counts one successful verification of `info` (whose row number is
    /// `seq`) at `now`, and shows it in `info`. `cached` is the cell of the
    /// row it was read from when that row is shared (a verify cache's),
    /// which may count it. True if no other usage was pending.
    pub(crate) fn record(&self, info: &mut KeyInfo, seq: i64, now: Timestamp, cached: Option<&Arc<UsageCell>>) -> bool {
        if let Some(shown) = cached.and_then(|cell| cell.count(now.as_millis())) {
            apply(info, shown);
            return false;
        }
        let mut pending = self.lock();
        let Pendings { map, armed } = &mut *pending;
        let first = map.is_empty();
        let entry = map.entry(Id::new(&info.id)).or_default();
        entry.counted.seq = seq;
        if let (Some(cell), Some(held)) = (cached, &entry.armed) {
            // Armed by another verify since this one found it disarmed:
            // nothing disarms a cell of this map without its lock.
            if Arc::ptr_eq(cell, held) {
                if let Some(shown) = cell.count(now.as_millis()) {
                    apply(info, shown);
                    return first;
                }
            }
        }
        // Counted here; another row's armed cell is taken in first, so that
        // the usage shown and the cell armed next start from the whole count.
        entry.disarm(armed);
        entry.counted.count += 1;
        entry.counted.last_used_at = entry.counted.last_used_at.max(now.as_millis());
        apply(info, entry.counted);
        if let Some(cell) = cached.filter(|cell| *armed < self.max_armed && cell.arm(&entry.counted)) {
            entry.armed = Some(Arc::clone(cell));
            *armed += 1;
        }
        first
    }

    /// Adds not-yet-written usage to `info`, so reads never look stale.
    pub(crate) fn overlay(&self, info: &mut KeyInfo) {
        if let Some(entry) = self.lock().map.get(&Id::new(&info.id)) {
            let mut p = entry.counted;
            if let Some(cell) = &entry.armed {
                cell.peek(&mut p);
            }
            apply(info, p);
        }
    }

    /// Forgets pending usage of a deleted key.
    pub(crate) fn forget(&self, id: &str) {
        let mut pending = self.lock();
        if let Some(mut entry) = pending.map.remove(&Id::new(id)) {
            entry.disarm(&mut pending.armed);
        }
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
    pub(crate) fn flush(&self, pause: bool, mut write: impl FnMut(&UsageBatch) -> Result<()>) -> Result<()> {
        // Guards nothing a panic could leave half-done: the counts are put back.
        let _flushing = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        let taken = std::mem::take(&mut *self.lock());
        // Outside the lock: a cell counts until it is taken, and this flush
        // writes what it counted by then; later uses go to the map.
        let mut in_order: Vec<(Id, Pending)> = taken
            .map
            .into_iter()
            .map(|(id, mut entry)| {
                if let Some(cell) = entry.armed {
                    cell.take(&mut entry.counted);
                }
                (id, entry.counted)
            })
            .collect();
        in_order.sort_unstable_by_key(|(_, p)| p.seq);
        let mut done = 0;
        while done < in_order.len() {
            let end = in_order.len().min(done + FLUSH_CHUNK);
            let started = std::time::Instant::now();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(&in_order[done..end]))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    self.put_back(in_order.drain(done..));
                    return Err(e);
                }
                Err(panic) => {
                    self.put_back(in_order.drain(done..));
                    std::panic::resume_unwind(panic);
                }
            }
            done = end;
            if pause && done < in_order.len() {
                // Leave the database's write lock free for as long as this
                // chunk held it: writers of other processes wait in SQLite's
                // busy handler, which polls (up to 100 ms apart), and would
                // rarely land in a gap of microseconds.
                std::thread::sleep(started.elapsed().min(MAX_PAUSE));
            }
        }
        Ok(())
    }

    /// Adds counts that could not be written back to the pending ones.
    fn put_back(&self, unwritten: impl IntoIterator<Item = (Id, Pending)>) {
        let mut pending = self.lock();
        let Pendings { map, armed } = &mut *pending;
        for (id, p) in unwritten {
            // A verify since the flush began has counted under a row number
            // read after these were, which is the one to keep.
            let entry = map
                .entry(id)
                .or_insert_with(|| Entry { counted: Pending { seq: p.seq, ..Pending::default() }, armed: None });
            // A cell armed since shows a count without these; its own count
            // joins them, and the next verify arms a cell with the sum.
            entry.disarm(armed);
            let cur = &mut entry.counted;
            cur.count += p.count;
            cur.last_used_at = cur.last_used_at.max(p.last_used_at);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pendings> {
        // Counters, and the cells armed: each step that changes one leaves
        // the whole consistent, so a panic between steps cannot break it.
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
    use crate::store::row::KeyRow;

    /// A row of key `id`, as a verify cache shares it, with `usage` uses stored.
    fn cached(id: &str, usage: i64) -> Arc<KeyRow> {
        Arc::new(KeyRow::for_tests(id, usage))
    }

    /// Records a use of `row` at `ms`, as `admit` does; the usage shown.
    fn use_of(usage: &UsageBuffer, row: &Arc<KeyRow>, ms: i64, via_cell: bool) -> (u64, i64) {
        let mut info = row.info.clone();
        usage.record(&mut info, row.seq, Timestamp::from_millis(ms), via_cell.then_some(row.usage.cell()));
        (info.usage_count, info.last_used_at.map_or(i64::MIN, |t| t.as_millis()))
    }

    /// Everything the next flush would write.
    fn flushed(usage: &UsageBuffer) -> HashMap<String, (u64, i64)> {
        let mut all = HashMap::new();
        usage
            .flush(false, |chunk| {
                all.extend(chunk.iter().map(|(id, p)| (id.as_str().to_string(), (p.count, p.last_used_at))));
                Ok(())
            })
            .unwrap();
        all
    }

    #[test]
    fn a_cached_row_counts_in_its_cell_once_armed_and_a_flush_takes_the_count() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 10);
        let row = cached("a", 5);
        assert_eq!(use_of(&usage, &row, 10, true), (6, 10));
        assert_eq!(usage.lock().armed, 1);
        // Counted in the cell: the map's count stays as the arming left it.
        assert_eq!(use_of(&usage, &row, 30, true), (7, 30));
        assert_eq!(use_of(&usage, &row, 20, true), (8, 30), "the latest use stays the latest");
        assert_eq!(usage.lock().map[&Id::new("a")].counted.count, 1);
        let mut shown = row.info.clone();
        usage.overlay(&mut shown);
        assert_eq!((shown.usage_count, shown.last_used_at), (8, Some(Timestamp::from_millis(30))));
        // A use of a row read afresh counts in the map, taking the cell's
        // count first, so the usage shown stays whole.
        assert_eq!(use_of(&usage, &cached("a", 5), 40, false), (9, 40));
        assert_eq!(usage.lock().armed, 0);
        assert_eq!(use_of(&usage, &row, 50, true), (10, 50), "the next cached use arms the cell again");
        assert_eq!(flushed(&usage), HashMap::from([("a".to_string(), (5, 50))]));
        let left = usage.lock().map.len();
        assert_eq!((left, usage.lock().armed), (0, 0));
        // Disarmed by the flush: the next use counts from what is left.
        assert_eq!(use_of(&usage, &row, 60, true), (6, 60));
        assert_eq!(flushed(&usage), HashMap::from([("a".to_string(), (1, 60))]));
    }

    #[test]
    fn another_row_of_the_same_key_takes_over_and_no_use_is_lost() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 10);
        let (old, new) = (cached("a", 0), cached("a", 0));
        for _ in 0..3 {
            use_of(&usage, &old, 1, true);
        }
        // The cache replaced the row: the new one's cell takes over.
        assert_eq!(use_of(&usage, &new, 2, true).0, 4);
        assert!(Arc::ptr_eq(usage.lock().map[&Id::new("a")].armed.as_ref().unwrap(), new.usage.cell()));
        // A verify still holding the old row counts in the map.
        assert_eq!(use_of(&usage, &old, 3, true).0, 5);
        assert_eq!(use_of(&usage, &new, 4, true).0, 6);
        assert_eq!(flushed(&usage)["a"], (6, 4));
    }

    #[test]
    fn an_armed_cell_keeps_only_itself_not_its_row() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 10);
        let row = cached("a", 0);
        use_of(&usage, &row, 1, true);
        use_of(&usage, &row, 2, true);
        // The cache lets the row go: the row is freed, its count is kept.
        let gone = Arc::downgrade(&row);
        drop(row);
        assert!(gone.upgrade().is_none());
        assert_eq!(flushed(&usage)["a"], (2, 2));
    }

    #[test]
    fn armed_rows_are_bounded_and_a_deleted_key_forgets_its_cell() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 1);
        let (a, b) = (cached("a", 0), cached("b", 0));
        use_of(&usage, &a, 1, true);
        use_of(&usage, &b, 1, true);
        use_of(&usage, &b, 1, true);
        let armed = |id: &str| usage.lock().map[&Id::new(id)].armed.is_some();
        assert!(armed("a") && !armed("b"), "one row at most");
        assert_eq!(usage.lock().map[&Id::new("b")].counted.count, 2);
        usage.forget("a");
        assert_eq!(usage.lock().armed, 0);
        use_of(&usage, &a, 2, true);
        assert_eq!(flushed(&usage), HashMap::from([("a".to_string(), (1, 2)), ("b".to_string(), (2, 1))]));
        // Nothing at all armed with a bound of 0 (a store without a cache).
        let none = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 0);
        use_of(&none, &a, 3, true);
        let armed = none.lock().armed;
        assert_eq!((armed, flushed(&none)["a"]), (0, (1, 3)));
    }

    #[test]
    fn a_cell_that_a_taken_map_still_holds_is_not_armed_again() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 10);
        let row = cached("a", 0);
        use_of(&usage, &row, 1, true);
        use_of(&usage, &row, 2, true);
        // A flush has taken the map and not yet the cell; a verify that
        // found the cell disarmed before then now counts in the new map.
        let taken = std::mem::take(&mut *usage.lock());
        assert!(!row.usage.cell().arm(&Pending::default()), "armed already");
        let mut p = Pending::default();
        taken.map[&Id::new("a")].armed.as_ref().unwrap().take(&mut p);
        assert_eq!(p.count, 1, "the count the taken map's flush writes");
    }

    #[test]
    fn counts_put_back_join_an_armed_cell() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 10);
        let row = cached("a", 0);
        use_of(&usage, &row, 1, true);
        use_of(&usage, &row, 2, true);
        assert!(usage.flush(false, |_| Err(Error::Store("no".into()))).is_err());
        // Put back: 2 uses. The cell was disarmed by the flush; a use arms it
        // again; then another flush fails and puts back what it took.
        assert_eq!(use_of(&usage, &row, 3, true).0, 3);
        assert!(usage.flush(false, |_| Err(Error::Store("no".into()))).is_err());
        assert_eq!(use_of(&usage, &row, 4, true).0, 4);
        assert_eq!(use_of(&usage, &row, 5, true).0, 5);
        assert_eq!(flushed(&usage)["a"], (5, 5));
    }

    #[test]
    fn counts_put_back_keep_the_row_number_read_last() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 10);
        let row = cached("a", 0);
        let record = |seq, ms| usage.record(&mut row.info.clone(), seq, Timestamp::from_millis(ms), None);
        let held = || {
            let p = usage.lock().map[&Id::new("a")].counted;
            (p.count, p.seq)
        };
        record(4, 1);
        assert!(usage.flush(false, |_| Err(Error::Store("no".into()))).is_err());
        assert_eq!(held(), (1, 4), "put back as taken");
        assert!(usage
            .flush(false, |_| {
                // A verify while the flush runs reads the key under a new number.
                record(9, 2);
                Err(Error::Store("no".into()))
            })
            .is_err());
        assert_eq!(held(), (2, 9), "the number read since the flush began");
    }

    #[test]
    fn uses_counted_while_flushes_run_are_each_written_once() {
        let usage = Arc::new(UsageBuffer::new(Timestamp::from_millis(0), 1_000, 10));
        let rows: Vec<_> = (0..3).map(|_| cached("a", 0)).collect();
        let total = std::sync::Mutex::new(0u64);
        let (threads, uses) = (4, 20_000);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (usage, rows) = (&usage, &rows);
                s.spawn(move || {
                    for i in 0..uses {
                        // Mostly the cached rows, now and then a fresh read.
                        let row = &rows[(t + i / 500) % rows.len()];
                        use_of(usage, row, i as i64, i % 97 != 0);
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..200 {
                    *total.lock().unwrap() += flushed(&usage).get("a").map_or(0, |c| c.0);
                    std::thread::yield_now();
                }
            });
        });
        let written = *total.lock().unwrap() + flushed(&usage).get("a").map_or(0, |c| c.0);
        assert_eq!(written, (threads * uses) as u64);
    }

    #[test]
    fn a_large_flush_writes_in_chunks_and_puts_back_only_what_was_not_written() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 0);
        let n = 2 * FLUSH_CHUNK + 10;
        // Row numbers against the ids' order, and apart.
        let pending = |i: usize| Pending { count: 1, last_used_at: 5, seq: 3 * (n - i) as i64 };
        usage.lock().map.extend((0..n).map(|i| (Id::new(&i.to_string()), Entry { counted: pending(i), armed: None })));
        let (mut chunks, mut spans) = (Vec::new(), Vec::new());
        let failed = usage.flush(true, |chunk| {
            chunks.push(chunk.len());
            let seqs = || chunk.iter().map(|(_, p)| p.seq);
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
        assert_eq!(usage.lock().map.len(), n - FLUSH_CHUNK);
        assert!(usage.lock().map.values().all(|e| e.counted.seq > 3 + width));
        assert!(usage.lock().map.values().all(|e| e.counted.count == 1 && e.counted.last_used_at == 5));
        let mut written = 0;
        usage
            .flush(false, |chunk| {
                written += chunk.len();
                Ok(())
            })
            .unwrap();
        assert_eq!((written, usage.lock().map.len()), (n - FLUSH_CHUNK, 0));
    }

    #[test]
    fn a_flush_that_panics_puts_back_what_it_had_not_written() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 0);
        let n = FLUSH_CHUNK + 1;
        let one = Pending { count: 1, last_used_at: 5, seq: 0 };
        usage.lock().map.extend((0..n).map(|i| (Id::new(&i.to_string()), Entry { counted: one, armed: None })));
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
        assert_eq!(usage.lock().map.len(), n - FLUSH_CHUNK);
    }

    #[test]
    fn a_small_flush_that_fails_puts_everything_back() {
        let usage = UsageBuffer::new(Timestamp::from_millis(0), 1_000, 0);
        usage
            .lock()
            .map
            .insert(Id::new("a"), Entry { counted: Pending { count: 2, last_used_at: 7, seq: 1 }, armed: None });
        assert!(usage.flush(true, |_| Err(Error::Store("no".into()))).is_err());
        let p = usage.lock().map[&Id::new("a")].counted;
        assert_eq!((p.count, p.last_used_at), (2, 7));
    }
}
