//! Test seams for the clock and the randomness.
//!
//! Not part of the normal API: production code uses the system clock and the
//! OS CSPRNG. With the `test-seams` feature, conformance vectors and tests
//! swap them in through `Keyhouse::open_with_seams` and
//! `format::generate_with_random`, so that every language can replay the same
//! scenario at the same instants.

#[cfg(feature = "test-seams")]
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
#[cfg(feature = "test-seams")]
use std::sync::Mutex;

use crate::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// A source of random bytes.
pub trait RandomSource: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The system wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // An OS without a working CSPRNG cannot issue safe keys at all;
        // refusing loudly beats issuing guessable ones.
        getrandom::fill(buf).expect("the operating system's random number generator failed");
    }
}

/// A clock that only moves when told to.
#[cfg(feature = "test-seams")]
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

#[cfg(feature = "test-seams")]
impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Arc<Self> {
        Arc::new(ManualClock(AtomicI64::new(start.as_millis())))
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.as_millis(), Ordering::SeqCst);
    }

    /// Moves the time forward by `ms` milliseconds.
    pub fn advance_millis(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

#[cfg(feature = "test-seams")]
impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Hands out the given bytes, in order, cycling when they run out: for
/// reproducing keys from fixed bytes (the format vectors).
#[cfg(feature = "test-seams")]
#[derive(Debug)]
pub struct FixedBytes {
    bytes: Vec<u8>,
    next: Mutex<usize>,
}

#[cfg(feature = "test-seams")]
impl FixedBytes {
    /// A source that yields `bytes`, then `bytes` again. `bytes` must not be empty.
    pub fn new(bytes: &[u8]) -> Arc<Self> {
        assert!(!bytes.is_empty(), "FixedBytes needs at least one byte");
        Arc::new(FixedBytes { bytes: bytes.to_vec(), next: Mutex::new(0) })
    }
}

#[cfg(feature = "test-seams")]
impl RandomSource for FixedBytes {
    fn fill(&self, buf: &mut [u8]) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        for b in buf {
            *b = self.bytes[*next];
            *next = (*next + 1) % self.bytes.len();
        }
    }
}

/// The clock and randomness a store uses.
#[derive(Clone)]
pub struct Seams {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The randomness for ids and secrets.
    pub random: Arc<dyn RandomSource>,
}

impl Default for Seams {
    fn default() -> Self {
        Seams { clock: Arc::new(SystemClock), random: Arc::new(OsRandom) }
    }
}
