//! The thread that writes pending usage out, so that no verify waits on it.
//!
//! The verify that found the flush interval passed used to write all the
//! pending usage itself before answering. With a million keys used since
//! the last flush, that one request took tens of seconds, and on SQLite any
//! request would wait up to `busy_timeout` for the write lock. It now hands
//! the flush to this thread and answers at once. The thread also flushes
//! when the interval passes with no verify to notice, so that usage reaches
//! the store (and the other processes) after traffic stops.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::backend::Backend;
use super::usage::UsageBuffer;
use crate::seam::Clock;

/// What the thread flushes, and the clock it tells the interval by.
pub(crate) type Store<'a> = (&'a Arc<dyn Backend>, &'a Arc<UsageBuffer>, &'a Arc<dyn Clock>);

/// The usage flush thread of one store, started when usage first pends.
pub(crate) struct Flusher {
    state: Mutex<State>,
    wake: Condvar,
    interval: Duration,
}

#[derive(Default)]
struct State {
    /// The process whose thread is running, if one is. A process forked
    /// from this one has no such thread, although it has this memory.
    running_in: Option<u32>,
    /// A verify has claimed a flush (`UsageBuffer::due`) for the thread.
    asked: bool,
    /// The thread is writing a flush.
    busy: bool,
    closed: bool,
}

impl Flusher {
    /// A flusher for a store whose flush interval is `interval`.
    pub(crate) fn new(interval: Duration) -> Arc<Self> {
        Arc::new(Flusher { state: Mutex::new(State::default()), wake: Condvar::new(), interval })
    }

    /// Starts the thread if this process has none (usage has begun to
    /// pend), so that it flushes when the interval has passed. False when
    /// there is no thread (the store is closing, or none could be started).
    pub(crate) fn start(self: &Arc<Self>, store: Store<'_>) -> bool {
        self.started(store).is_some()
    }

    /// Hands a claimed flush to the thread, starting the thread if this
    /// process has none. False when it cannot (the store is closing, or no
    /// thread could be started): the caller then flushes itself.
    pub(crate) fn ask(self: &Arc<Self>, store: Store<'_>) -> bool {
        let Some(mut state) = self.started(store) else { return false };
        state.asked = true;
        self.wake.notify_all();
        true
    }

    fn started(self: &Arc<Self>, (db, usage, clock): Store<'_>) -> Option<MutexGuard<'_, State>> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let pid = std::process::id();
        if state.running_in != Some(pid) {
            // The thread holds the store weakly: it never keeps a dropped store alive.
            let (me, db, usage, clock) =
                (Arc::downgrade(self), Arc::downgrade(db), Arc::downgrade(usage), clock.clone());
            std::thread::Builder::new()
                .name("keyhouse-usage".into())
                .spawn(move || run(&me, &db, &usage, &*clock))
                .ok()?;
            (state.running_in, state.busy) = (Some(pid), false);
        }
        Some(state)
    }

    /// Waits for the flush the thread is writing, if any: a flush asked for
    /// after this one returns has all earlier usage written when it ends.
    pub(crate) fn settle(&self) {
        drop(self.idle(self.lock()));
    }

    /// Stops the thread, once the flush it is writing, if any, has ended:
    /// `close` then writes what is left, and nothing is written after it.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.wake.notify_all();
        drop(self.idle(state));
    }

    fn idle<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        while state.busy && state.running_in == Some(std::process::id()) {
            state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few flags, each set in one step: a panic elsewhere cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn run(me: &Weak<Flusher>, db: &Weak<dyn Backend>, usage: &Weak<UsageBuffer>, clock: &dyn Clock) {
    loop {
        let Some(flusher) = me.upgrade() else { return };
        // Until the flush is due, by the store's clock; at least a
        // millisecond, and at most an interval (a test's clock may stand still).
        let Some(wait) = usage.upgrade().map(|u| u.due_in(clock.now())) else { return };
        let wait = wait.clamp(Duration::from_millis(1), flusher.interval);
        {
            let state = flusher.lock();
            let (mut state, _) = flusher
                .wake
                .wait_timeout_while(state, wait, |s| !s.asked && !s.closed)
                .unwrap_or_else(|e| e.into_inner());
            if state.closed {
                state.running_in = None;
                return;
            }
            // Claimed by a verify, or due with no verify to notice.
            let asked = std::mem::take(&mut state.asked);
            if !asked && !usage.upgrade().is_some_and(|u| u.due(clock.now())) {
                continue;
            }
            state.busy = true;
        }
        let store = db.upgrade().zip(usage.upgrade());
        if let Some((db, usage)) = &store {
            // Best effort, as the verify's own flush was: unwritten counts
            // stay pending (a failed or panicking chunk is put back) and go
            // out with the next flush. The panic is caught so that `busy`
            // is cleared below and `close` does not wait for ever.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.flush(usage)));
        }
        let gone = store.is_none();
        // Let go of the store before `close` may return: a store is never
        // dropped on this thread.
        drop(store);
        let mut state = flusher.lock();
        state.busy = false;
        flusher.wake.notify_all();
        if gone {
            state.running_in = None;
            return;
        }
    }
}
