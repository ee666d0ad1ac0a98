//! `generate`, `parse`, `hash_key` and `verify_hash`: keys without a store.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::convert::{int_in, string, type_name};
use crate::errors::IntoPyResult;
use crate::types::{GeneratedKey, ParsedKey, Pepper};

/// The HTTP status an API answers a request with this outcome code (what
/// `Outcome.http_status` returns).
#[pyfunction]
pub fn http_status(py: Python<'_>, outcome: &str) -> PyResult<u16> {
    keyhouse::Outcome::from_code(outcome)
        .map(keyhouse::Outcome::http_status)
        .ok_or_else(|| crate::errors::invalid(py, format!("{outcome:?} is not an outcome")))
}

/// A key argument as text. Anything longer than the longest key is passed on
/// as the core's `OVERSIZED_KEY` (rejected as TOO_LONG either way), so a
/// 10 MB string is never copied. Text that cannot be
/// UTF-8 (lone surrogates) is passed on as a character no key contains.
pub fn key_text<'a>(v: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, str>> {
    let s = v
        .cast::<PyString>()
        .map_err(|_| pyo3::exceptions::PyTypeError::new_err(format!("key must be a str, not {}", type_name(v))))?;
    if s.len()? > keyhouse::format::MAX_KEY_LEN {
        return Ok(Cow::Borrowed(keyhouse::format::OVERSIZED_KEY));
    }
    Ok(s.to_cow().unwrap_or(Cow::Borrowed("\u{FFFD}")))
}

/// Peppers from a list or tuple of `Pepper`.
pub fn peppers(field: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<keyhouse::Pepper>> {
    let Some(v) = v.filter(|v| !v.is_none()) else { return Ok(Vec::new()) };
    if !(v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>()) {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{field} must be a list of Pepper, not {}",
            type_name(v)
        )));
    }
    v.try_iter()?
        .map(|p| {
            pepper(field, Some(&p?))?
                .ok_or_else(|| pyo3::exceptions::PyTypeError::new_err(format!("{field} must not contain None")))
        })
        .collect()
}

/// An optional `Pepper` argument.
pub fn pepper(field: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<keyhouse::Pepper>> {
    match v.filter(|v| !v.is_none()) {
        None => Ok(None),
        Some(v) => match v.cast::<Pepper>() {
            Ok(p) => Ok(Some(p.get().inner.clone())),
            Err(_) => {
                Err(pyo3::exceptions::PyTypeError::new_err(format!("{field} must be a Pepper, not {}", type_name(v))))
            }
        },
    }
}

/// Generates a key: 32 random bytes of secret by default, hashed with `pepper` if given.
#[pyfunction]
#[pyo3(signature = (prefix = None, *, secret_bytes = None, pepper = None))]
pub fn generate(
    py: Python<'_>,
    prefix: Option<&Bound<'_, PyAny>>,
    secret_bytes: Option<&Bound<'_, PyAny>>,
    pepper: Option<&Bound<'_, PyAny>>,
) -> PyResult<GeneratedKey> {
    let prefix =
        prefix.map(|p| string("prefix", p)).transpose()?.unwrap_or_else(|| keyhouse::format::DEFAULT_PREFIX.into());
    let n = secret_bytes
        .map(|n| int_in("secret_bytes", n, 0, 1 << 20))
        .transpose()?
        .unwrap_or(keyhouse::format::DEFAULT_SECRET_BYTES);
    let pepper = self::pepper("pepper", pepper)?;
    let inner = py.detach(|| keyhouse::generate_with(&prefix, n, pepper.as_ref())).py_err(py)?;
    Ok(GeneratedKey { inner })
}

/// The prefix and id of a well-formed key; raises `MalformedError` (with `.reason`) otherwise.
#[pyfunction]
pub fn parse(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<ParsedKey> {
    let key = key_text(key)?;
    Ok(ParsedKey { inner: keyhouse::parse(&key).py_err(py)? })
}

/// The tagged hash of a well-formed key: `sha256$…`, or `hmac-sha256$<id>$…` with a pepper.
#[pyfunction]
#[pyo3(signature = (key, pepper = None))]
pub fn hash_key(py: Python<'_>, key: &Bound<'_, PyAny>, pepper: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    let key = key_text(key)?;
    let pepper = self::pepper("pepper", pepper)?;
    py.detach(|| keyhouse::hash_key(&key, pepper.as_ref())).py_err(py)
}

/// Whether `key` matches `stored_hash`, compared in constant time.
#[pyfunction]
#[pyo3(signature = (key, stored_hash, peppers = None))]
pub fn verify_hash(
    py: Python<'_>,
    key: &Bound<'_, PyAny>,
    stored_hash: &Bound<'_, PyAny>,
    peppers: Option<&Bound<'_, PyAny>>,
) -> PyResult<bool> {
    let key = key_text(key)?;
    let stored = string("stored_hash", stored_hash)?;
    let peppers = self::peppers("peppers", peppers)?;
    py.detach(|| keyhouse::verify_hash(&key, &stored, &peppers)).py_err(py)
}

/// Runs the keyhouse CLI (`python -m keyhouse`, the `keyhouse` script) with
/// `args`, the program name first, and returns its exit code. It is the
/// core's CLI, the same program as the Rust binary, writing straight to this
/// process's stdout and stderr. Arguments are OS strings, so a path that is
/// not UTF-8 (decoded by Python with surrogateescape) reaches it intact.
#[pyfunction]
pub fn run_cli(py: Python<'_>, args: Vec<std::ffi::OsString>) -> u8 {
    py.detach(|| keyhouse::cli::run(args))
}
