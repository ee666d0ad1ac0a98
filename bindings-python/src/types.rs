//! Python classes for the core's values. Each wraps the core value and
//! converts a field only when it is read, so a verify that only looks at
//! `outcome` pays for nothing else.

use keyhouse::Timestamp;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyType};

use crate::convert::{self, datetime_to_py, duration_to_py, json_to_py};
use crate::errors::IntoPyResult;

fn opt_datetime(py: Python<'_>, t: Option<Timestamp>) -> PyResult<Option<Py<PyAny>>> {
    t.map(|t| datetime_to_py(py, t)).transpose()
}

/// A string as Python's `repr` writes it.
fn repr_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn repr_opt(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "None".into(), repr_str)
}

fn repr_list(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| repr_str(s)).collect::<Vec<_>>().join(", "))
}

/// A server-side secret mixed into every key hash, named by an id.
/// Its `repr` never shows the secret.
#[pyclass(frozen, module = "keyhouse", name = "Pepper")]
pub struct Pepper {
    pub inner: keyhouse::Pepper,
}

#[pymethods]
impl Pepper {
    /// A pepper named `id` (1–32 of `[A-Za-z0-9_-]`) with at least 16 bytes of `secret`.
    #[new]
    fn new(py: Python<'_>, id: &Bound<'_, PyAny>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let id = convert::string("id", id)?;
        let secret = secret.cast::<PyBytes>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!("secret must be bytes, not {}", convert::type_name(secret)))
        })?;
        Ok(Pepper { inner: keyhouse::Pepper::new(&id, secret.as_bytes()).py_err(py)? })
    }

    /// The pepper's id, as written into hash tags.
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn __repr__(&self) -> String {
        format!("Pepper(id={}, secret=<redacted>)", repr_str(self.inner.id()))
    }
}

/// Credits restored on a schedule: every `interval`, `remaining` is reset to `amount`.
#[pyclass(frozen, module = "keyhouse", name = "Refill")]
pub struct Refill {
    pub inner: keyhouse::Refill,
}

#[pymethods]
impl Refill {
    /// `amount` credits every `interval` (a `timedelta` or seconds).
    #[new]
    fn new(amount: &Bound<'_, PyAny>, interval: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Refill {
            inner: keyhouse::Refill {
                amount: convert::int_in("amount", amount, 0, i64::MAX.into())?,
                interval: convert::duration_from_py("interval", interval)?,
            },
        })
    }

    /// The value `remaining` is reset to.
    #[getter]
    fn amount(&self) -> i64 {
        self.inner.amount
    }

    /// How often the reset happens.
    #[getter]
    fn interval(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        duration_to_py(py, self.inner.interval)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!("Refill(amount={}, interval={}s)", self.inner.amount, self.inner.interval.as_secs_f64())
    }
}

/// At most `limit` verifications per `window`.
#[pyclass(frozen, module = "keyhouse", name = "RateLimit")]
pub struct RateLimit {
    pub inner: keyhouse::RateLimit,
}

#[pymethods]
impl RateLimit {
    /// `limit` requests per `window` (a `timedelta` or seconds).
    #[new]
    fn new(limit: &Bound<'_, PyAny>, window: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(RateLimit {
            inner: keyhouse::RateLimit {
                limit: convert::int_in("limit", limit, 0, u32::MAX.into())?,
                window: convert::duration_from_py("window", window)?,
            },
        })
    }

    /// Requests allowed per window.
    #[getter]
    fn limit(&self) -> u32 {
        self.inner.limit
    }

    /// The window length.
    #[getter]
    fn window(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        duration_to_py(py, self.inner.window)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!("RateLimit(limit={}, window={}s)", self.inner.limit, self.inner.window.as_secs_f64())
    }
}

/// A key's rate-limit state after a verification.
#[pyclass(frozen, module = "keyhouse", name = "RateLimitState")]
pub struct RateLimitState {
    pub inner: keyhouse::RateLimitState,
}

#[pymethods]
impl RateLimitState {
    /// Requests allowed per window.
    #[getter]
    fn limit(&self) -> u32 {
        self.inner.limit
    }

    /// The window length.
    #[getter]
    fn window(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        duration_to_py(py, self.inner.window)
    }

    /// Requests that would be allowed right now.
    #[getter]
    fn remaining(&self) -> u32 {
        self.inner.remaining
    }

    /// When the full limit is available again.
    #[getter]
    fn reset_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        datetime_to_py(py, self.inner.reset_at)
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!("RateLimitState(limit={}, remaining={}, reset_at={})", s.limit, s.remaining, s.reset_at)
    }
}

/// Everything the store knows about a key, except its secret.
#[pyclass(frozen, module = "keyhouse", name = "KeyInfo")]
pub struct KeyInfo {
    pub inner: keyhouse::KeyInfo,
}

#[pymethods]
impl KeyInfo {
    /// The public key id.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }

    /// The key's prefix.
    #[getter]
    fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Who the key belongs to.
    #[getter]
    fn owner_id(&self) -> Option<&str> {
        self.inner.owner_id.as_deref()
    }

    /// A human-readable name.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// Granted permissions (a new list on every read).
    #[getter]
    fn permissions(&self) -> Vec<String> {
        self.inner.permissions.clone()
    }

    /// Caller-defined data (a new dict on every read).
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.metadata.clone()))
    }

    /// Whether the key is enabled.
    #[getter]
    fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// When the key was created.
    #[getter]
    fn created_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        datetime_to_py(py, self.inner.created_at)
    }

    /// When the key's settings last changed.
    #[getter]
    fn updated_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        datetime_to_py(py, self.inner.updated_at)
    }

    /// When the key expires, if ever.
    #[getter]
    fn expires_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        opt_datetime(py, self.inner.expires_at)
    }

    /// When the key was revoked, if it was.
    #[getter]
    fn revoked_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        opt_datetime(py, self.inner.revoked_at)
    }

    /// The last successful verification.
    #[getter]
    fn last_used_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        opt_datetime(py, self.inner.last_used_at)
    }

    /// Successful verifications so far.
    #[getter]
    fn usage_count(&self) -> u64 {
        self.inner.usage_count
    }

    /// Credits left, or `None` for unlimited use.
    #[getter]
    fn remaining(&self) -> Option<i64> {
        self.inner.remaining
    }

    /// The credit refill schedule.
    #[getter]
    fn refill(&self) -> Option<Refill> {
        self.inner.refill.map(|inner| Refill { inner })
    }

    /// When credits were last refilled.
    #[getter]
    fn last_refill_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        opt_datetime(py, self.inner.last_refill_at)
    }

    /// The rate limit.
    #[getter]
    fn rate_limit(&self) -> Option<RateLimit> {
        self.inner.rate_limit.map(|inner| RateLimit { inner })
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        let i = &self.inner;
        format!(
            "KeyInfo(id={}, prefix={}, owner_id={}, name={}, permissions={}, enabled={}, expires_at={}, revoked_at={}, remaining={})",
            repr_str(&i.id),
            repr_str(&i.prefix),
            repr_opt(&i.owner_id),
            repr_opt(&i.name),
            repr_list(&i.permissions),
            if i.enabled { "True" } else { "False" },
            i.expires_at.map_or_else(|| "None".into(), |t| t.to_string()),
            i.revoked_at.map_or_else(|| "None".into(), |t| t.to_string()),
            i.remaining.map_or_else(|| "None".into(), |r| r.to_string()),
        )
    }
}

/// A key just created: the plaintext (shown once) and its info.
/// Its `repr` never shows the plaintext.
#[pyclass(frozen, module = "keyhouse", name = "CreatedKey")]
pub struct CreatedKey {
    pub inner: keyhouse::CreatedKey,
}

#[pymethods]
impl CreatedKey {
    /// The plaintext key. It is not stored and cannot be shown again.
    #[getter]
    fn key(&self) -> &str {
        &self.inner.key
    }

    /// The stored info.
    #[getter]
    fn info(&self) -> KeyInfo {
        KeyInfo { inner: self.inner.info.clone() }
    }

    fn __repr__(&self) -> String {
        format!("CreatedKey(key=<redacted>, info={})", KeyInfo { inner: self.inner.info.clone() }.__repr__())
    }
}

/// A key made by `generate`, with its id and hash. Its `repr` never shows the key.
#[pyclass(frozen, module = "keyhouse", name = "GeneratedKey")]
pub struct GeneratedKey {
    pub inner: keyhouse::GeneratedKey,
}

#[pymethods]
impl GeneratedKey {
    /// The plaintext key.
    #[getter]
    fn key(&self) -> &str {
        &self.inner.key
    }

    /// The public key id.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }

    /// The prefix.
    #[getter]
    fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The tagged hash to store.
    #[getter]
    fn hash(&self) -> &str {
        &self.inner.hash
    }

    fn __repr__(&self) -> String {
        format!(
            "GeneratedKey(key=<redacted>, id={}, prefix={}, hash={})",
            repr_str(&self.inner.id),
            repr_str(&self.inner.prefix),
            repr_str(&self.inner.hash)
        )
    }
}

/// The public parts of a well-formed key.
#[pyclass(frozen, module = "keyhouse", name = "ParsedKey")]
pub struct ParsedKey {
    pub inner: keyhouse::ParsedKey,
}

#[pymethods]
impl ParsedKey {
    /// The prefix.
    #[getter]
    fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The public key id.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!("ParsedKey(prefix={}, id={})", repr_str(&self.inner.prefix), repr_str(&self.inner.id))
    }
}

/// One page of keys, oldest first.
#[pyclass(frozen, module = "keyhouse", name = "KeyPage")]
pub struct KeyPage {
    pub inner: keyhouse::KeyPage,
}

#[pymethods]
impl KeyPage {
    /// The keys on this page.
    #[getter]
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.inner.keys.iter().map(|k| KeyInfo { inner: k.clone() }))
    }

    /// Pass as `cursor` for the next page; `None` on the last page.
    #[getter]
    fn next_cursor(&self) -> Option<&str> {
        self.inner.next_cursor.as_deref()
    }

    fn __len__(&self) -> usize {
        self.inner.keys.len()
    }

    fn __repr__(&self) -> String {
        format!("KeyPage(keys=<{} keys>, next_cursor={})", self.inner.keys.len(), repr_opt(&self.inner.next_cursor))
    }
}

/// The result of verifying a key.
#[pyclass(frozen, module = "keyhouse", name = "VerifyResult")]
pub struct VerifyResult {
    pub inner: keyhouse::VerifyResult,
}

static OUTCOME: PyOnceLock<Py<PyType>> = PyOnceLock::new();

#[pymethods]
impl VerifyResult {
    /// What happened, as a `keyhouse.Outcome`.
    #[getter]
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        OUTCOME.import(py, "keyhouse.outcome", "Outcome")?.getattr(self.inner.outcome.as_str())
    }

    /// The key's info, once its secret matched (any outcome but MALFORMED and NOT_FOUND).
    #[getter]
    fn key(&self) -> Option<KeyInfo> {
        self.inner.key.clone().map(|inner| KeyInfo { inner })
    }

    /// Why the key is malformed (e.g. `"CHECKSUM_MISMATCH"`), for MALFORMED.
    #[getter]
    fn malformed_reason(&self) -> Option<&'static str> {
        self.inner.malformed_reason.map(|r| r.code())
    }

    /// How long to wait before retrying, for RATE_LIMITED.
    #[getter]
    fn retry_after(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.inner.retry_after.map(|d| duration_to_py(py, d)).transpose()
    }

    /// The rate-limit state, for keys with a rate limit.
    #[getter]
    fn rate_limit(&self) -> Option<RateLimitState> {
        self.inner.rate_limit.map(|inner| RateLimitState { inner })
    }

    /// Whether the outcome is VALID.
    fn is_valid(&self) -> bool {
        self.inner.is_valid()
    }

    fn __repr__(&self) -> String {
        let r = &self.inner;
        let mut s = format!("VerifyResult(outcome={}", r.outcome);
        if let Some(reason) = r.malformed_reason {
            s.push_str(&format!(", malformed_reason={reason}"));
        }
        if let Some(k) = &r.key {
            s.push_str(&format!(", key_id={}", repr_str(&k.id)));
        }
        if let Some(d) = r.retry_after {
            s.push_str(&format!(", retry_after={}s", d.as_secs_f64()));
        }
        s.push(')');
        s
    }
}
