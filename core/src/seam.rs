//! Test seams for the clock and the randomness.
//!
//! Not part of the normal API: production code uses the system clock and the
//! OS CSPRNG. Conformance vectors and tests swap them in through
//! [`crate::Keyhouse::open_with_seams`] and [`crate::format::generate_with_random`],
//! so that every language can replay the same scenario at the same instants.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

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
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

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

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Deterministic bytes: SHA-256 in counter mode over a seed. For tests only.
#[derive(Debug)]
pub struct SeededRandom {
    seed: Vec<u8>,
    counter: Mutex<u64>,
}

impl SeededRandom {
    /// A stream determined entirely by `seed`.
    pub fn new(seed: &[u8]) -> Arc<Self> {
        Arc::new(SeededRandom { seed: seed.to_vec(), counter: Mutex::new(0) })
    }
}

impl RandomSource for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        let mut counter = self.counter.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in buf.chunks_mut(32) {
            let block = Sha256::new().chain_update(&self.seed).chain_update(counter.to_be_bytes()).finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
            *counter += 1;
        }
    }
}

/// Hands out the given bytes, in order, cycling when they run out: for
/// reproducing keys from fixed bytes (the format vectors).
#[derive(Debug)]
pub struct FixedBytes {
    bytes: Vec<u8>,
    next: Mutex<usize>,
}

impl FixedBytes {
    /// A source that yields `bytes`, then `bytes` again. `bytes` must not be empty.
    pub fn new(bytes: &[u8]) -> Arc<Self> {
        assert!(!bytes.is_empty(), "FixedBytes needs at least one byte");
        Arc::new(FixedBytes { bytes: bytes.to_vec(), next: Mutex::new(0) })
    }
}

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
