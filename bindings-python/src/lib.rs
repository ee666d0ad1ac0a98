//! The `keyhouse._native` extension module: the Keyhouse core for Python.
//!
//! This crate only converts values and maps errors; every rule lives in the
//! core. The pure-Python package `keyhouse` re-exports what is here and adds
//! the `Outcome` enum, the exception classes and the FastAPI integration.

mod convert;
mod errors;
#[cfg(feature = "test-seams")]
mod seam;
mod self_service;
mod stateless;
mod store;
mod types;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SCHEMA_VERSION", keyhouse::SCHEMA_VERSION)?;
    m.add("KEY_REGEX", keyhouse::KEY_REGEX)?;
    m.add("MAX_KEY_LEN", keyhouse::format::MAX_KEY_LEN)?;
    m.add_function(wrap_pyfunction!(stateless::generate, m)?)?;
    m.add_function(wrap_pyfunction!(stateless::parse, m)?)?;
    m.add_function(wrap_pyfunction!(stateless::hash_key, m)?)?;
    m.add_function(wrap_pyfunction!(stateless::verify_hash, m)?)?;
    m.add_function(wrap_pyfunction!(stateless::http_status, m)?)?;
    m.add_function(wrap_pyfunction!(stateless::run_cli, m)?)?;
    #[cfg(feature = "test-seams")]
    {
        m.add_function(wrap_pyfunction!(seam::_generate_from_bytes, m)?)?;
        m.add_function(wrap_pyfunction!(seam::_open_with_clock, m)?)?;
        m.add_class::<seam::TestClock>()?;
    }
    m.add_class::<store::Keyhouse>()?;
    m.add_class::<self_service::KeyApi>()?;
    m.add_class::<store::Ready>()?;
    m.add_class::<types::Pepper>()?;
    m.add_class::<types::Refill>()?;
    m.add_class::<types::RateLimit>()?;
    m.add_class::<types::RateLimitState>()?;
    m.add_class::<types::KeyInfo>()?;
    m.add_class::<types::CreatedKey>()?;
    m.add_class::<types::GeneratedKey>()?;
    m.add_class::<types::ParsedKey>()?;
    m.add_class::<types::KeyPage>()?;
    m.add_class::<types::VerifyResult>()?;
    Ok(())
}
