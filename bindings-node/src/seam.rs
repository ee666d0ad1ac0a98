//! The test seam: a settable clock and fixed randomness, so the conformance
//! vectors replay here exactly as in Rust. Underscored: not part of the API.

use std::sync::Arc;

use keyhouse::seam::{FixedBytes, ManualClock, OsRandom, Seams};
use keyhouse::Timestamp;
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

use crate::convert::{integer, string};
use crate::errors::{type_error, IntoJsResult};
use crate::stateless::opt_pepper;
use crate::store::{config_from_js, Keyhouse};
use crate::types::GeneratedKey;

/// A clock that only moves when told to, in milliseconds since the epoch.
#[napi(js_name = "_TestClock")]
pub struct TestClock {
    inner: Arc<ManualClock>,
}

#[napi]
impl TestClock {
    /// A clock stopped at `startMs`.
    #[napi(constructor)]
    pub fn new(start_ms: f64) -> Self {
        TestClock { inner: ManualClock::new(Timestamp::from_millis(start_ms as i64)) }
    }

    /// Sets the time.
    #[napi]
    pub fn set(&self, ms: f64) {
        self.inner.set(Timestamp::from_millis(ms as i64));
    }
}

/// Opens a store whose clock is `clock`.
#[napi(js_name = "_openWithClock", ts_args_type = "path: string, clock: _TestClock, config?: KeyhouseConfig")]
pub fn open_with_clock(env: Env, path: Unknown, clock: &TestClock, config: Option<Unknown>) -> Result<Keyhouse> {
    let path = string(&env, "path", path)?;
    let config = config_from_js(&env, config)?;
    let seams = Seams { clock: clock.inner.clone(), random: Arc::new(OsRandom) };
    Ok(Keyhouse::wrap(keyhouse::Keyhouse::open_with_seams(path.as_ref(), config, seams).js(&env)?))
}

/// Generates a key from fixed bytes: the id bytes, then the secret bytes.
#[napi(
    js_name = "_generateFromBytes",
    ts_args_type = "prefix: string, random: Uint8Array, secretBytes: number, pepper?: Pepper"
)]
pub fn generate_from_bytes(
    env: Env,
    prefix: Unknown,
    random: Uint8Array,
    secret_bytes: Unknown,
    pepper: Option<Unknown>,
) -> Result<GeneratedKey> {
    let prefix = string(&env, "prefix", prefix)?;
    let n = integer(&env, "secretBytes", secret_bytes, 0.0, 1024.0)? as usize;
    let pepper = opt_pepper(&env, "pepper", pepper)?;
    if random.is_empty() {
        return Err(type_error(&env, "random must not be empty"));
    }
    let source = FixedBytes::new(&random);
    Ok(keyhouse::format::generate_with_random(&prefix, n, pepper.as_ref(), &*source).js(&env)?.into())
}
