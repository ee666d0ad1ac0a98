//! Batched usage tracking.
//!
//! A verify of a key with no credits and no rate limit writes nothing. Its
//! `last_used_at` and `usage_count` collect here and are written together,
//! at most once per flush interval, and on `flush`/`close`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use crate::error::Result;
use crate::model::KeyInfo;
use crate::Timestamp;

/// Usage of one key not yet written: how many verifies, and the latest.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pending {
    pub count: u64,
    pub last_used_at: i64,
}

/// Usage not yet written to the store.
#[derive(Debug)]
pub(crate) struct UsageBuffer {
    pending: Mutex<HashMap<String, Pending>>,
    next_flush_at: AtomicI64,
    interval_ms: i64,
}

impl UsageBuffer {
    pub(crate) fn new(now: Timestamp, interval_ms: i64) -> Self {
        UsageBuffer {
            pending: Mutex::new(HashMap::new()),
            next_flush_at: AtomicI64::new(now.as_millis().saturating_add(interval_ms)),
            interval_ms,
        }
    }

    /// Counts one successful verification of `info` at `now`, and shows it in `info`.
    pub(crate) fn record(&self, info: &mut KeyInfo, now: Timestamp) {
        let mut pending = self.lock();
        // Look up before inserting: the hot path then never allocates.
        let p = match pending.get_mut(&info.id) {
            Some(p) => p,
            None => pending.entry(info.id.clone()).or_default(),
        };
        p.count += 1;
        p.last_used_at = p.last_used_at.max(now.as_millis());
        apply(info, *p);
    }

    /// Adds not-yet-written usage to `info`, so reads never look stale.
    pub(crate) fn overlay(&self, info: &mut KeyInfo) {
        if let Some(p) = self.lock().get(&info.id) {
            apply(info, *p);
        }
    }

    /// Forgets pending usage of a deleted key.
    pub(crate) fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Whether the flush interval has passed, without claiming the flush.
    pub(crate) fn is_due(&self, now: Timestamp) -> bool {
        now.as_millis() >= self.next_flush_at.load(Ordering::Relaxed)
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

    /// Hands all pending usage to `write`, which adds it to the store in
    /// one transaction. If the write fails the counts are put back, so
    /// nothing is lost.
    pub(crate) fn flush(&self, write: impl FnOnce(&HashMap<String, Pending>) -> Result<()>) -> Result<()> {
        let batch: HashMap<String, Pending> = std::mem::take(&mut *self.lock());
        if batch.is_empty() {
            return Ok(());
        }
        match write(&batch) {
            Ok(()) => Ok(()),
            Err(e) => {
                let mut pending = self.lock();
                for (id, p) in batch {
                    let cur = pending.entry(id).or_default();
                    cur.count += p.count;
                    cur.last_used_at = cur.last_used_at.max(p.last_used_at);
                }
                Err(e)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
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
