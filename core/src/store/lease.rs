//! Leased limits (`Config::lease_size`): a store reserves credits and
//! rate-limit slots for a hot key in the write that one verify makes anyway,
//! and admits the next verifies of that key from memory.
//!
//! What a lease may admit is taken out of the stored state in that write, so
//! every process, leased or exact, decides on a state that already counts it:
//!
//! - **Credits** leave `remaining` when leased. A lease belongs to one refill
//!   period and lapses at its end: the refill resets the balance, and credits
//!   of the old period must not be spent beside the new one.
//! - **Rate-limit slots** move the key's GCRA state (its TAT) on by one
//!   emission interval each, as if that many requests had arrived at once.
//!   Slot *j* starts where slot *j − 1* ends, and may be used only up to its
//!   start. A request admitted at time `a` on a slot that ends at `v` then
//!   satisfies `v − limit·T ≤ a ≤ v − T`, exactly as a request GCRA admits
//!   itself does, and slot ends are spaced by `T` or more. So any interval of
//!   length `d` admits at most `limit + d/T`, the limiter's own bound, however
//!   leased and exact requests mix. A slot whose start has passed lapses.
//!
//! Unused credits and unexpired slots go back on `flush`, `close` and after
//! `lease_idle` without use. Credits go back only while the refill period
//! and the key's `limit_epoch` are unchanged (an `update` that sets limits
//! replaces the balance); slots only while the stored TAT is still the one
//! the lease left (no later reservation sits behind them). Whatever cannot
//! go back, or is held by a process that dies, is lost: others may then be
//! refused early, never admitted beyond the limits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::backend::{Backend, Tx};
use super::row::KeyRow;
use crate::error::{Error, Result};
use crate::model::{Outcome, RateLimitState};
use crate::ratelimit::{self, Decision};
use crate::seam::Clock;
use crate::time::duration_millis;
use crate::verify::{apply_refill, refill_wait};
use crate::{RateLimit, Timestamp};

/// The longest a refusal is answered from memory before the store is asked again.
const MAX_MEMO: Duration = Duration::from_millis(100);

/// Credits and slots one store holds for one key.
#[derive(Clone, Debug)]
pub(crate) struct Lease {
    /// The key's `limit_epoch` when the lease was taken.
    epoch: i64,
    taken_at: Timestamp,
    last_used: Timestamp,
    slots: Option<Slots>,
    credits: Option<Credits>,
}

/// Rate-limit slots, in GCRA's units of 1/limit ms.
#[derive(Clone, Debug)]
struct Slots {
    rate_limit: RateLimit,
    /// The start of the first slot not used yet.
    next: i64,
    /// The stored TAT right after the lease was taken: the end of its last slot.
    end: i64,
}

#[derive(Clone, Debug)]
struct Credits {
    left: i64,
    /// The stored balance right after the lease was taken.
    stored: i64,
    /// The refill period the credits belong to: its start and length in ms.
    period: Option<(Timestamp, i64)>,
}

/// What a lease says about one request.
pub(crate) enum Taken {
    /// Admitted from memory: the rate-limit state and balance to report.
    Admitted { rate_limit: Option<RateLimitState>, remaining: Option<i64>, last_refill_at: Option<Timestamp> },
    /// Refused from memory: the store said so when the lease was taken, and
    /// nothing this process knows of has changed that since.
    Refused { outcome: Outcome, retry_after: Option<Duration>, rate_limit: Option<RateLimitState> },
    /// The store must decide.
    Renew,
}

impl Slots {
    /// The start of the first slot usable at `now_s`, skipping those whose
    /// start has passed; `None` when none is left.
    fn usable(&self, now_s: i64) -> Option<i64> {
        let step = duration_millis(self.rate_limit.window);
        // Saturating: near the end of time, scaled times reach i64::MAX.
        let behind = now_s.saturating_sub(self.next).max(0);
        let next = self.next.saturating_add(behind.saturating_add(step - 1) / step * step);
        (next < self.end).then_some(next)
    }
}

/// The refill period `row`'s credits belong to, once its refills are
/// applied: its start and length in ms; `None` without a refill.
fn refill_period(row: &KeyRow, now: Timestamp) -> Option<(Timestamp, i64)> {
    row.info.refill.map(|r| (row.info.last_refill_at.unwrap_or(now), duration_millis(r.interval)))
}

fn scaled_now(rl: &RateLimit, now: Timestamp) -> i64 {
    now.as_millis().saturating_mul(i64::from(rl.limit))
}

impl Lease {
    /// Spends `cost` credits and one slot from this lease if it can; else
    /// says whether the store is sure to refuse (within `memo` of the lease
    /// being taken) or must be asked.
    fn take(&mut self, row: &KeyRow, now: Timestamp, cost: u32, memo: Duration) -> Taken {
        let same_shape = row.info.rate_limit.is_some() == self.slots.is_some()
            && row.info.remaining.is_some() == self.credits.is_some();
        if row.limit_epoch != self.epoch || !same_shape || self.lapsed_period(now) {
            return Taken::Renew;
        }
        // A refusal is remembered briefly: another process may give credits
        // or slots back meanwhile, and the store would then admit.
        let fresh = now.as_millis() - self.taken_at.as_millis() < duration_millis(memo.min(MAX_MEMO));
        let mut slot = None;
        let mut out_of_slots = false;
        if let Some(s) = &self.slots {
            slot = s.usable(scaled_now(&s.rate_limit, now));
            if slot.is_none() {
                // What the store would answer if nothing had changed since.
                match ratelimit::check(&s.rate_limit, Some(s.end), now) {
                    Decision::Limited { retry_after_ms, state } if fresh => {
                        return Taken::Refused {
                            outcome: Outcome::RateLimited,
                            retry_after: Some(Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(0))),
                            rate_limit: Some(state),
                        };
                    }
                    Decision::Limited { .. } => return Taken::Renew,
                    // The limiter would admit it, but not from this lease;
                    // the credits may still refuse it from memory.
                    Decision::Allowed { .. } => out_of_slots = true,
                }
            }
        }
        let cost = i64::from(cost);
        if let Some(c) = &self.credits {
            if c.left < cost {
                if fresh && c.stored.saturating_add(c.left) < cost {
                    let rate_limit =
                        self.slots.as_ref().map(|s| ratelimit::peek(&s.rate_limit, Some(slot.unwrap_or(s.end)), now));
                    let retry_after = c.period.map(|(start, len)| refill_wait(start, len, now));
                    return Taken::Refused { outcome: Outcome::UsageExceeded, retry_after, rate_limit };
                }
                return Taken::Renew;
            }
        }
        if out_of_slots {
            return Taken::Renew;
        }
        let mut rate_limit = None;
        if let (Some(s), Some(start)) = (&mut self.slots, slot) {
            match ratelimit::check(&s.rate_limit, Some(start), now) {
                Decision::Allowed { tat, state } => {
                    s.next = tat;
                    rate_limit = Some(state);
                }
                // Cannot happen for a slot that `usable` returned; the store decides if it does.
                Decision::Limited { .. } => return Taken::Renew,
            }
        }
        self.last_used = now;
        let (remaining, last_refill_at) = match &mut self.credits {
            Some(c) => {
                c.left -= cost;
                (Some(c.stored.saturating_add(c.left)), c.period.map(|(start, _)| start))
            }
            None => (None, None),
        };
        Taken::Admitted { rate_limit, remaining, last_refill_at }
    }

    /// Whether the refill period the credits belong to has ended.
    fn lapsed_period(&self, now: Timestamp) -> bool {
        self.credits
            .as_ref()
            .and_then(|c| c.period)
            .is_some_and(|(start, len)| now.as_millis().saturating_sub(start.as_millis()) >= len)
    }

    /// Whether giving this lease back at `now` could return anything.
    fn holds_anything(&self, now: Timestamp) -> bool {
        let credits = self.credits.as_ref().is_some_and(|c| c.left > 0) && !self.lapsed_period(now);
        let slots = self.slots.as_ref().is_some_and(|s| s.usable(scaled_now(&s.rate_limit, now)).is_some());
        credits || slots
    }

    /// Puts what is unused back into `row`, the key's state read in the
    /// write transaction that will save it. Whether anything changed.
    pub(crate) fn give_back(&self, row: &mut KeyRow, now: Timestamp) -> bool {
        if row.limit_epoch != self.epoch {
            return false;
        }
        let mut changed = false;
        if let (Some(c), Some(_)) = (&self.credits, row.info.remaining) {
            apply_refill(&mut row.info, now);
            if c.left > 0 && refill_period(row, now) == c.period {
                row.info.remaining = row.info.remaining.map(|r| r.saturating_add(c.left));
                changed = true;
            }
        }
        if let Some(s) = &self.slots {
            let next = s.usable(scaled_now(&s.rate_limit, now));
            if let (Some(next), true, true) =
                (next, row.rate_tat == Some(s.end), row.info.rate_limit == Some(s.rate_limit))
            {
                row.rate_tat = Some(next);
                changed = true;
            }
        }
        changed
    }

    /// Reserves, from `row` (the key's state just after a request of `cost`
    /// was admitted on it, in the same write transaction), enough for up to
    /// `size - 1` more such requests, and moves it out of `row`.
    pub(crate) fn reserve(row: &mut KeyRow, now: Timestamp, cost: u32, size: u32) -> Lease {
        let mut more = i64::from(size.saturating_sub(1));
        if let Some(stored) = row.info.remaining {
            // No slots the credits cannot pay for.
            more = more.min(stored.max(0) / i64::from(cost.max(1)));
        }
        let slots = row.info.rate_limit.map(|rl| {
            let step = duration_millis(rl.window);
            let now_s = scaled_now(&rl, now);
            // The admitted request left the TAT here; each more slot must still
            // pass GCRA's test at `now`: tat + step - now_s <= limit * step.
            let tat = row.rate_tat.unwrap_or(now_s).max(now_s);
            let room = (step.saturating_mul(i64::from(rl.limit)) - (tat - now_s)) / step;
            more = more.min(room.max(0));
            let end = tat.saturating_add(more * step);
            row.rate_tat = Some(end);
            Slots { rate_limit: rl, next: tat, end }
        });
        let credits = row.info.remaining.map(|stored| {
            let left = stored.min(i64::from(cost).saturating_mul(more)).max(0);
            row.info.remaining = Some(stored - left);
            Credits { left, stored: stored - left, period: refill_period(row, now) }
        });
        Lease { epoch: row.limit_epoch, taken_at: now, last_used: now, slots, credits }
    }

    /// An empty lease that remembers `row`'s state, read in the write that
    /// refused a request, so the next requests are refused from memory too
    /// while that state says so.
    pub(crate) fn refusal(row: &KeyRow, now: Timestamp) -> Lease {
        let slots = row.info.rate_limit.map(|rl| {
            let tat = row.rate_tat.unwrap_or(i64::MIN).max(scaled_now(&rl, now));
            Slots { rate_limit: rl, next: tat, end: tat }
        });
        let credits = row.info.remaining.map(|stored| Credits { left: 0, stored, period: refill_period(row, now) });
        Lease { epoch: row.limit_epoch, taken_at: now, last_used: now, slots, credits }
    }
}

/// A renewal, passed into the write transaction of a leased verify: the
/// leases to give back first, and the lease it took.
pub(crate) struct Renewal {
    pub returning: Vec<Lease>,
    pub size: u32,
    pub granted: Option<Lease>,
    /// Whether the transaction gave `returning` back (it may answer first).
    pub gave_back: bool,
}

impl Renewal {
    /// Gives `returning` back into `row` (read in the renewal's write
    /// transaction) and marks it done; whether `row` changed.
    pub(crate) fn give_back_into(&mut self, row: &mut KeyRow, now: Timestamp) -> bool {
        self.gave_back = true;
        self.returning.iter().fold(false, |changed, lease| lease.give_back(row, now) | changed)
    }
}

/// The leases of one store, by key id, and the thread that returns idle ones.
pub(crate) struct LeaseBook {
    pub size: u32,
    idle: Duration,
    state: Mutex<Book>,
    /// Wakes the returning thread early, when the store closes.
    wake: Condvar,
    /// Wakes threads waiting for another thread's renewal.
    renewed: Condvar,
}

#[derive(Default)]
struct Book {
    by_key: HashMap<String, Vec<Lease>>,
    /// Keys a thread is renewing a lease on.
    renewing: HashSet<String>,
    returner: bool,
    closed: bool,
}

/// Leases taken out of the book, to give back in one write.
pub(crate) type Held = Vec<(String, Lease)>;

impl LeaseBook {
    pub(crate) fn new(size: u32, idle: Duration) -> Self {
        LeaseBook { size, idle, state: Mutex::new(Book::default()), wake: Condvar::new(), renewed: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        // The book holds plain data; a panic elsewhere leaves it consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves a request from this store's leases on the key, if one can.
    pub(crate) fn take(&self, row: &KeyRow, now: Timestamp, cost: u32) -> Taken {
        let mut book = self.lock();
        let Some(leases) = book.by_key.get_mut(&row.info.id) else { return Taken::Renew };
        let newest = leases.len().saturating_sub(1);
        let mut answer = Taken::Renew;
        for (i, lease) in leases.iter_mut().enumerate() {
            match lease.take(row, now, cost, self.idle) {
                admitted @ Taken::Admitted { .. } => return admitted,
                // Only the newest lease knows the latest state of the store.
                refused @ Taken::Refused { .. } if i == newest => answer = refused,
                _ => {}
            }
        }
        answer
    }

    /// Takes every lease on `id` out of the book for a renewal, unless
    /// another thread is renewing the key (`None`: wait for it, or spend
    /// exactly).
    pub(crate) fn start_renewal(&self, id: &str) -> Option<Vec<Lease>> {
        let mut book = self.lock();
        if !book.renewing.insert(id.to_owned()) {
            return None;
        }
        Some(book.by_key.remove(id).unwrap_or_default())
    }

    /// Ends the renewal `start_renewal` began.
    pub(crate) fn end_renewal(&self, id: &str) {
        self.lock().renewing.remove(id);
        self.renewed.notify_all();
    }

    /// Waits until no thread is renewing `id`; false if `deadline` came first.
    pub(crate) fn wait_for_renewal(&self, id: &str, deadline: Instant) -> bool {
        let book = self.lock();
        let timeout = deadline.saturating_duration_since(Instant::now());
        let (book, _) = self
            .renewed
            .wait_timeout_while(book, timeout, |b| b.renewing.contains(id))
            .unwrap_or_else(|e| e.into_inner());
        !book.renewing.contains(id)
    }

    /// Whether the store is closing: leases granted now go straight back.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Takes every lease on `id` out of the book, to give back.
    pub(crate) fn take_key(&self, id: &str) -> Vec<Lease> {
        self.lock().by_key.remove(id).unwrap_or_default()
    }

    /// The credits this store's leases on key `id` hold unspent, as `get`
    /// and `list` count them into its balance; only those taken under
    /// `epoch`, when given.
    pub(crate) fn unspent(&self, id: &str, epoch: Option<i64>, now: Timestamp) -> i64 {
        let book = self.lock();
        let Some(leases) = book.by_key.get(id) else { return 0 };
        leases
            .iter()
            .filter(|l| epoch.map_or(true, |e| l.epoch == e) && !l.lapsed_period(now))
            .filter_map(|l| l.credits.as_ref().map(|c| c.left))
            .sum()
    }

    /// Adds leases on `id`; whether the returning thread must be started.
    pub(crate) fn put(&self, id: &str, leases: impl IntoIterator<Item = Lease>) -> bool {
        let mut book = self.lock();
        let entry = book.by_key.entry(id.to_owned()).or_default();
        entry.extend(leases);
        if entry.is_empty() {
            book.by_key.remove(id);
        }
        let start = !book.returner && !book.closed && !book.by_key.is_empty();
        book.returner |= start;
        start
    }

    /// Takes out every lease (`all`) or those unused for `lease_idle`, keeping
    /// only those with something to give back.
    pub(crate) fn drain(&self, now: Timestamp, all: bool) -> Held {
        let idle = duration_millis(self.idle);
        let mut out = Vec::new();
        let mut book = self.lock();
        book.by_key.retain(|id, leases| {
            leases.retain(|lease| {
                let going = all || now.as_millis() - lease.last_used.as_millis() >= idle;
                if going && lease.holds_anything(now) {
                    out.push((id.clone(), lease.clone()));
                }
                !going
            });
            !leases.is_empty()
        });
        out
    }

    /// Puts back leases that could not be given back, to try again later.
    pub(crate) fn restore(&self, held: Held) {
        let mut book = self.lock();
        for (id, lease) in held {
            book.by_key.entry(id).or_default().push(lease);
        }
    }

    /// Stops the returning thread.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }
}

/// Runs a write transaction whose body gives leases back. On failure, says
/// whether the leases are surely still held: true when the body failed (the
/// transaction rolled back), false when the commit did, which may have
/// reached the database (a connection lost during COMMIT). Leases then
/// count as given back: at worst lost, never given back twice.
pub(crate) fn write_giving_back<T>(
    db: &dyn Backend,
    f: impl FnOnce(&mut dyn Tx) -> Result<T>,
) -> std::result::Result<T, (Error, bool)> {
    let mut body_done = false;
    db.write(|tx| {
        let out = f(tx)?;
        body_done = true;
        Ok(out)
    })
    .map_err(|e| (e, !body_done))
}

/// Gives `held` back to the store in one write transaction; on failure,
/// the leases that are surely still held.
pub(crate) fn give_back(db: &dyn Backend, held: Held, now: Timestamp) -> std::result::Result<(), (Error, Held)> {
    if held.is_empty() {
        return Ok(());
    }
    // In id order: two processes giving back leases on the same keys then
    // lock their rows in the same order (PostgreSQL), and never deadlock.
    let mut ordered: Vec<&(String, Lease)> = held.iter().collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    let result = write_giving_back(db, |tx| {
        for (id, lease) in ordered {
            if let Some(mut row) = tx.load(id)? {
                if lease.give_back(&mut row, now) {
                    tx.save_state(&row)?;
                }
            }
        }
        Ok(())
    });
    result.map_err(|(e, held_still)| (e, if held_still { held } else { Vec::new() }))
}

/// Starts the thread that gives back leases idle for `lease_idle`. It holds
/// neither the book nor the store alive, and ends when the book is empty
/// (`LeaseBook::put` asks for another) or closed, or the store is gone.
pub(crate) fn start_returner(book: &Arc<LeaseBook>, db: &Arc<dyn Backend>, clock: Arc<dyn Clock>) {
    let (weak_book, weak_db) = (Arc::downgrade(book), Arc::downgrade(db));
    let spawned = std::thread::Builder::new()
        .name("keyhouse-leases".into())
        .spawn(move || returner(&weak_book, &weak_db, &*clock));
    if spawned.is_err() {
        // Idle leases then go back on `flush` and `close`; the next lease
        // asks for the thread again.
        book.lock().returner = false;
    }
}

fn returner(book: &Weak<LeaseBook>, db: &Weak<dyn Backend>, clock: &dyn Clock) {
    loop {
        let Some(leases) = book.upgrade() else { return };
        {
            let guard = leases.lock();
            let (guard, _) = leases.wake.wait_timeout(guard, leases.idle / 2).unwrap_or_else(|e| e.into_inner());
            if guard.closed {
                return;
            }
        }
        let now = clock.now();
        let idle = leases.drain(now, false);
        if !idle.is_empty() {
            let Some(db) = db.upgrade() else { return };
            // A busy store is tried again next round.
            if let Err((_, still_held)) = give_back(&*db, idle, now) {
                leases.restore(still_held);
            }
        }
        let mut state = leases.lock();
        if state.by_key.is_empty() || state.closed {
            state.returner = false;
            return;
        }
    }
}
