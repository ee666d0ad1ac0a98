//! The test seam: a settable clock and fixed randomness, so the conformance
//! vectors replay here exactly as in Rust. Underscored: not part of the API.

use std::sync::Arc;

use keyhouse::seam::{FixedBytes, ManualClock, OsRandom, Seams};
use keyhouse::Timestamp;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{int_in, string};
use crate::errors::IntoPyResult;
use crate::stateless::pepper;
use crate::store::{config_from_py, path_from_py, Keyhouse};
use crate::types::GeneratedKey;

/// A clock that only moves when told to, in milliseconds since the epoch.
#[pyclass(frozen, module = "keyhouse._native", name = "_TestClock")]
pub struct TestClock {
    inner: Arc<ManualClock>,
}

#[pymethods]
impl TestClock {
    #[new]
    fn new(start_ms: i64) -> Self {
        TestClock { inner: ManualClock::new(Timestamp::from_millis(start_ms)) }
    }

    /// Sets the time.
    fn set(&self, ms: i64) {
        self.inner.set(Timestamp::from_millis(ms));
    }
}

/// Opens a store whose clock is `clock`.
#[pyfunction]
#[pyo3(signature = (path, clock, **config))]
pub fn _open_with_clock(
    py: Python<'_>,
    path: &Bound<'_, PyAny>,
    clock: &Bound<'_, TestClock>,
    config: Option<&Bound<'_, PyDict>>,
) -> PyResult<Keyhouse> {
    let path = path_from_py(path)?;
    let config = config_from_py(config)?;
    let seams = Seams { clock: clock.get().inner.clone(), random: Arc::new(OsRandom) };
    let inner = py.detach(|| keyhouse::Keyhouse::open_with_seams(&path, config, seams)).py_err(py)?;
    Ok(Keyhouse::wrap(inner))
}

/// Generates a key from fixed bytes: the id bytes, then the secret bytes.
#[pyfunction]
#[pyo3(signature = (prefix, random, secret_bytes, pepper = None))]
pub fn _generate_from_bytes(
    py: Python<'_>,
    prefix: &Bound<'_, PyAny>,
    random: &Bound<'_, PyBytes>,
    secret_bytes: &Bound<'_, PyAny>,
    pepper: Option<&Bound<'_, PyAny>>,
) -> PyResult<GeneratedKey> {
    let prefix = string("prefix", prefix)?;
    let n: usize = int_in("secret_bytes", secret_bytes, 0, 1 << 20)?;
    let pepper = self::pepper("pepper", pepper)?;
    if random.as_bytes().is_empty() {
        return Err(crate::errors::invalid(py, "random must not be empty"));
    }
    let source = FixedBytes::new(random.as_bytes());
    let inner = keyhouse::format::generate_with_random(&prefix, n, pepper.as_ref(), &*source).py_err(py)?;
    Ok(GeneratedKey { inner })
}
