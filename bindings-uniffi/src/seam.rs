//! The test seam: a settable clock and fixed randomness, so the conformance
//! vectors replay here exactly as in Rust. Not part of the API; the names
//! start with `test` because UniFFI has no private-name convention.

use std::sync::Arc;

use keyhouse::seam::{FixedBytes, ManualClock, OsRandom, Seams};
use keyhouse::Timestamp;

use crate::convert::int;
use crate::errors::{invalid, Result};
use crate::keys::{GeneratedKey, Pepper};
use crate::store::{core_config, Keyhouse};
use crate::types::{Config, TimeSpan};

/// A clock that only moves when told to. For tests.
#[derive(uniffi::Object)]
pub struct TestClock {
    inner: Arc<ManualClock>,
}

#[uniffi::export]
impl TestClock {
    /// A clock stopped at `start`.
    #[uniffi::constructor]
    pub fn new(start: Timestamp) -> Arc<Self> {
        Arc::new(TestClock { inner: ManualClock::new(start) })
    }

    /// Sets the time.
    pub fn set(&self, now: Timestamp) {
        self.inner.set(now);
    }

    /// Moves the time forward (or back, for a negative span).
    pub fn advance(&self, by: TimeSpan) {
        self.inner.advance_millis(by.millis);
    }
}

/// Opens a store whose clock is `clock`. For tests.
#[uniffi::export(default(config = None))]
pub fn test_open_with_clock(path: String, clock: Arc<TestClock>, config: Option<Config>) -> Result<Arc<Keyhouse>> {
    let seams = Seams { clock: clock.inner.clone(), random: Arc::new(OsRandom) };
    Ok(Keyhouse::wrap(keyhouse::Keyhouse::open_with_seams(path.as_ref(), core_config(config)?, seams)?))
}

/// Generates a key from fixed bytes: the id bytes, then the secret bytes. For tests.
#[uniffi::export(default(pepper = None))]
pub fn test_generate_from_bytes(
    prefix: String,
    random: Vec<u8>,
    secret_bytes: i64,
    pepper: Option<Arc<Pepper>>,
) -> Result<Arc<GeneratedKey>> {
    if random.is_empty() {
        return Err(invalid("random must not be empty"));
    }
    let source = FixedBytes::new(&random);
    let n = int("secret_bytes", secret_bytes)?;
    let inner = keyhouse::format::generate_with_random(&prefix, n, pepper.as_ref().map(|p| &p.inner), &*source)?;
    Ok(Arc::new(GeneratedKey { inner }))
}
