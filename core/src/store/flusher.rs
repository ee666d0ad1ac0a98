//! The thread that writes pending usage out, so that no verify waits on it.
//!
//! The verify that found the flush interval passed used to write all the
//! pending usage itself before answering. With a million keys used since
//! the last flush, that one request took tens of seconds, and on SQLite any
//! request would wait up to `busy_timeout` for the write lock. It now hands
//! the flush to this thread and answers at once. The thread also flushes
//! when the interval passes with no verify to notice, so that usage reaches
//! the store (and the other processes) after traffic stops.

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// A use was counted first by a verify that could not start the thread.
    start_wanted: AtomicBool,
    wake: Condvar,
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
    /// A flusher with no thread yet; the first use counted starts one.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Flusher {
            state: Mutex::new(State::default()),
            start_wanted: AtomicBool::new(false),
            wake: Condvar::new(),
        })
    }

    /// After a use is counted (`first`: the first pending one): starts the
    /// thread if this process has none, so that it flushes when the
    /// interval has passed. Without `io` (a verify that must not wait), the
    /// start is left to the next use counted with `io`.
    pub(crate) fn start_if(self: &Arc<Self>, (first, io): (bool, bool), store: Store<'_>) {
        if !(first || self.start_wanted.load(Ordering::Relaxed)) {
            return;
        }
        self.start_wanted.store(!io, Ordering::Relaxed);
        if io {
            self.started(store);
        }
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

    /// Stops the thread, once the flush it is writing, if any, has ended:
    /// `close` then writes what is left, and nothing is written after it.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.wake.notify_all();
        while state.busy && state.running_in == Some(std::process::id()) {
            state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Undoes `close` for a store whose close failed, and so stays open:
    /// starts the thread again, for the usage that close could not write.
    pub(crate) fn reopen(self: &Arc<Self>, store: Store<'_>) {
        self.lock().closed = false;
        self.started(store);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few flags, each set in one step: a panic elsewhere
        // cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn run(me: &Weak<Flusher>, db: &Weak<dyn Backend>, usage: &Weak<UsageBuffer>, clock: &dyn Clock) {
    // The loop says it is ending in the same locked step that decides it.
    // After a panic, the state says so here: there is no thread, so the
    // next flush starts another and nobody waits for this one.
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| flush_when_due(me, db, usage, clock)));
    if let (Err(_), Some(flusher)) = (ended, me.upgrade()) {
        let mut state = flusher.lock();
        (state.running_in, state.busy) = (None, false);
        flusher.wake.notify_all();
    }
}

fn flush_when_due(me: &Weak<Flusher>, db: &Weak<dyn Backend>, usage: &Weak<UsageBuffer>, clock: &dyn Clock) {
    loop {
        let Some(flusher) = me.upgrade() else { return };
        // Until the flush is due, by the store's clock; at least a millisecond.
        let Some(wait) = usage.upgrade().map(|u| u.due_in(clock.now())) else {
            flusher.lock().running_in = None;
            return;
        };
        let wait = wait.max(Duration::from_millis(1));
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
            // out with the next flush. A panic is caught here so that the
            // thread goes on.
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
