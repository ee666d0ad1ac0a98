//! The `Keyhouse` class: the store, with the GIL released around every call.

use std::path::PathBuf;
use std::sync::Arc;

use keyhouse::{Config, CreateOptions, ListOptions, UpdateOptions};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::convert::{
    boolean, datetime_from_py, duration_from_py, int_in, metadata_from_py, string, strings, type_name,
};
use crate::errors::IntoPyResult;
use crate::stateless::{key_text, pepper, peppers};
use crate::types::{CreatedKey, KeyInfo, KeyPage, RateLimit, Refill, VerifyResult};

/// An API-key store on SQLite or PostgreSQL. One instance may be shared by many threads;
/// every call releases the GIL while the core works.
///
/// Use it as a context manager to flush usage counts and close it.
#[pyclass(frozen, module = "keyhouse", name = "Keyhouse")]
pub struct Keyhouse {
    inner: Arc<keyhouse::Keyhouse>,
}

impl Keyhouse {
    pub fn wrap(inner: keyhouse::Keyhouse) -> Self {
        Keyhouse { inner: Arc::new(inner) }
    }

    /// The store, for another class that works on it.
    pub fn shared(&self) -> Arc<keyhouse::Keyhouse> {
        Arc::clone(&self.inner)
    }
}

#[pymethods]
impl Keyhouse {
    /// Opens (creating if needed) the store at `path`, or an in-memory one for `":memory:"`.
    #[new]
    #[pyo3(signature = (path, **config))]
    fn new(py: Python<'_>, path: &Bound<'_, PyAny>, config: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let path = path_from_py(path)?;
        let config = config_from_py(config)?;
        let inner = py.detach(|| keyhouse::Keyhouse::open(&path, config)).py_err(py)?;
        Ok(Keyhouse::wrap(inner))
    }

    /// Creates a key. The returned plaintext is shown once: only its hash is stored.
    #[pyo3(signature = (**options))]
    fn create(&self, py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<CreatedKey> {
        let options = create_options(options)?;
        let inner = py.detach(|| self.inner.create(options)).py_err(py)?;
        Ok(CreatedKey { inner })
    }

    /// Creates many keys in one transaction (all or none). Each item is a
    /// dict of the keyword arguments `create` takes.
    fn create_many(&self, py: Python<'_>, options: &Bound<'_, PyAny>) -> PyResult<Vec<CreatedKey>> {
        if !(options.is_instance_of::<PyList>() || options.is_instance_of::<PyTuple>()) {
            return Err(PyTypeError::new_err(format!("options must be a list of dict, not {}", type_name(options))));
        }
        let options = options
            .try_iter()?
            .map(|item| {
                let item = item?;
                let dict = item
                    .cast::<PyDict>()
                    .map_err(|_| PyTypeError::new_err(format!("each item must be a dict, not {}", type_name(&item))))?;
                create_options(Some(dict))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let created = py.detach(|| self.inner.create_many(options)).py_err(py)?;
        Ok(created.into_iter().map(|inner| CreatedKey { inner }).collect())
    }

    /// Verifies a key, requiring every permission in `permissions`, and pays
    /// `cost` credits if the key has credits. A bad key is an outcome, not an
    /// exception.
    #[pyo3(signature = (key, permissions = None, cost = None))]
    fn verify(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        permissions: Option<&Bound<'_, PyAny>>,
        cost: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<VerifyResult> {
        let key = key_text(key)?;
        let permissions = permissions.map(|p| strings("permissions", p)).transpose()?.unwrap_or_default();
        let cost: u32 = cost.map(|c| int_in("cost", c, 0, u32::MAX.into())).transpose()?.unwrap_or(1);
        let inner = py
            .detach(|| {
                let required: Vec<&str> = permissions.iter().map(String::as_str).collect();
                self.inner.verify(&key, &required, cost)
            })
            .py_err(py)?;
        Ok(VerifyResult { inner })
    }

    /// Verifies a key from async code: an awaitable of what `verify` returns.
    ///
    /// A key the store can answer from memory (cached and known to be
    /// current, nothing to spend or write) is answered here, in
    /// microseconds: the awaitable is already complete, and awaiting it
    /// never suspends. Anything that needs the database (a cache miss, a
    /// key with credits or a rate limit) runs `verify` in the running
    /// loop's default executor, so the loop never waits on the network or a
    /// lock. Errors are raised when the result is awaited.
    #[pyo3(signature = (key, permissions = None, cost = None))]
    fn verify_async<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        permissions: Option<&Bound<'py, PyAny>>,
        cost: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let answered = (|| -> PyResult<Option<VerifyResult>> {
            let text = key_text(key)?;
            let required = permissions.map(|p| strings("permissions", p)).transpose()?.unwrap_or_default();
            let required: Vec<&str> = required.iter().map(String::as_str).collect();
            let cost: u32 = cost.map(|c| int_in("cost", c, 0, u32::MAX.into())).transpose()?.unwrap_or(1);
            let cached = slf.borrow().inner.verify_cached(&text, &required, cost).py_err(py)?;
            Ok(cached.map(|inner| VerifyResult { inner }))
        })();
        let ready = match answered {
            Ok(None) => {
                let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
                let verify = slf.getattr("verify")?;
                return event_loop.call_method1("run_in_executor", (py.None(), verify, key, permissions, cost));
            }
            Ok(Some(result)) => Ready { result: Some(Ok(Py::new(py, result)?.into_any())) },
            Err(e) => Ready { result: Some(Err(e)) },
        };
        Ok(Bound::new(py, ready)?.into_any())
    }

    /// The key with this id.
    fn get(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<KeyInfo> {
        let id = string("id", id)?;
        Ok(KeyInfo { inner: py.detach(|| self.inner.get(&id)).py_err(py)? })
    }

    /// One page of keys, oldest first; pass `next_cursor` as `cursor` for the next.
    #[pyo3(signature = (*, owner_id = None, limit = None, cursor = None, include_revoked = None))]
    fn list(
        &self,
        py: Python<'_>,
        owner_id: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        cursor: Option<&Bound<'_, PyAny>>,
        include_revoked: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<KeyPage> {
        let options = ListOptions {
            owner_id: given(owner_id).map(|v| string("owner_id", v)).transpose()?,
            limit: given(limit).map(|v| int_in("limit", v, 0, u32::MAX.into())).transpose()?.unwrap_or(100),
            cursor: given(cursor).map(|v| string("cursor", v)).transpose()?,
            include_revoked: given(include_revoked)
                .map(|v| boolean("include_revoked", v))
                .transpose()?
                .unwrap_or(false),
        };
        Ok(KeyPage { inner: py.detach(|| self.inner.list(&options)).py_err(py)? })
    }

    /// Changes a key's settings. Pass only what changes; `None` clears `name`,
    /// `expires_at`, `remaining`, `refill` and `rate_limit`.
    #[pyo3(signature = (id, **changes))]
    fn update(&self, py: Python<'_>, id: &Bound<'_, PyAny>, changes: Option<&Bound<'_, PyDict>>) -> PyResult<KeyInfo> {
        let id = string("id", id)?;
        let changes = update_options(changes)?;
        Ok(KeyInfo { inner: py.detach(|| self.inner.update(&id, changes)).py_err(py)? })
    }

    /// Revokes a key (soft): it stays, and verifies as REVOKED.
    fn revoke(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<KeyInfo> {
        let id = string("id", id)?;
        Ok(KeyInfo { inner: py.detach(|| self.inner.revoke(&id)).py_err(py)? })
    }

    /// Deletes a key for good.
    fn delete(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        let id = string("id", id)?;
        py.detach(|| self.inner.delete(&id)).py_err(py)
    }

    /// Issues a new key with the same settings; the old one works for `grace`
    /// (a `timedelta` or seconds) and then expires.
    #[pyo3(signature = (id, grace = None))]
    fn roll(&self, py: Python<'_>, id: &Bound<'_, PyAny>, grace: Option<&Bound<'_, PyAny>>) -> PyResult<CreatedKey> {
        let id = string("id", id)?;
        let grace = grace.map(|g| duration_from_py("grace", g)).transpose()?.unwrap_or_default();
        Ok(CreatedKey { inner: py.detach(|| self.inner.roll(&id, grace)).py_err(py)? })
    }

    /// Deletes every expired key; returns how many.
    fn purge_expired(&self, py: Python<'_>) -> PyResult<u64> {
        py.detach(|| self.inner.purge_expired()).py_err(py)
    }

    /// Writes pending usage counts now.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.flush()).py_err(py)
    }

    /// Flushes usage counts and closes the database; later calls raise `ClosedError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.close()).py_err(py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        "Keyhouse(...)".into()
    }
}

/// An optional argument, with `None` read as not given.
fn given<'a, 'py>(v: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    v.filter(|v| !v.is_none())
}

/// A filesystem path from a `str` or `os.PathLike`.
pub fn path_from_py(v: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    v.extract::<PathBuf>()
        .map_err(|_| PyTypeError::new_err(format!("path must be a str or os.PathLike, not {}", type_name(v))))
}

/// Reads keyword arguments, refusing unknown names as Python would.
fn for_each_kwarg(
    kwargs: Option<&Bound<'_, PyDict>>,
    what: &str,
    mut f: impl FnMut(&str, &Bound<'_, PyAny>) -> PyResult<bool>,
) -> PyResult<()> {
    let Some(kwargs) = kwargs else { return Ok(()) };
    for (k, v) in kwargs.iter() {
        let name: String = k.extract()?;
        if !f(&name, &v)? {
            return Err(PyTypeError::new_err(format!("{what} got an unexpected keyword argument {name:?}")));
        }
    }
    Ok(())
}

/// The keyword arguments `Keyhouse()` takes.
const CONFIG_OPTIONS: &[&str] = &[
    "default_prefix",
    "secret_bytes",
    "pepper",
    "previous_peppers",
    "default_permissions",
    "default_expiry",
    "min_expiry",
    "max_expiry",
    "max_keys_per_owner",
    "usage_flush_interval",
    "busy_timeout",
    "rehash_on_verify",
    "verify_cache_size",
    "pool_size",
    "connect_timeout",
    "statement_timeout",
    "max_staleness",
    "schema",
    "listen_url",
    "lease_size",
    "lease_idle",
];

/// The store configuration from keyword arguments.
pub fn config_from_py(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Config> {
    let mut c = Config::default();
    for_each_kwarg(kwargs, "Keyhouse()", |name, v| {
        if v.is_none() {
            // None means "not given" (the default) for every option, as
            // null and undefined do in the Node binding.
            return Ok(CONFIG_OPTIONS.contains(&name));
        }
        match name {
            "default_prefix" => c.default_prefix = string(name, v)?,
            "secret_bytes" => c.secret_bytes = int_in(name, v, 0, 1 << 20)?,
            "pepper" => c.pepper = pepper(name, Some(v))?,
            "previous_peppers" => c.previous_peppers = peppers(name, Some(v))?,
            "default_permissions" => c.default_permissions = strings(name, v)?,
            "default_expiry" => c.default_expiry = Some(duration_from_py(name, v)?),
            "min_expiry" => c.min_expiry = Some(duration_from_py(name, v)?),
            "max_expiry" => c.max_expiry = Some(duration_from_py(name, v)?),
            "max_keys_per_owner" => c.max_keys_per_owner = Some(int_in(name, v, 0, u32::MAX.into())?),
            "usage_flush_interval" => c.usage_flush_interval = duration_from_py(name, v)?,
            "busy_timeout" => c.busy_timeout = duration_from_py(name, v)?,
            "rehash_on_verify" => c.rehash_on_verify = boolean(name, v)?,
            "verify_cache_size" => c.verify_cache_size = int_in(name, v, 0, u32::MAX.into())?,
            "pool_size" => c.pool_size = int_in(name, v, 0, u32::MAX.into())?,
            "connect_timeout" => c.connect_timeout = duration_from_py(name, v)?,
            "statement_timeout" => c.statement_timeout = duration_from_py(name, v)?,
            "max_staleness" => c.max_staleness = duration_from_py(name, v)?,
            "schema" => c.schema = string(name, v)?,
            "listen_url" => c.listen_url = Some(string(name, v)?),
            "lease_size" => c.lease_size = Some(int_in(name, v, 0, u32::MAX.into())?),
            "lease_idle" => c.lease_idle = duration_from_py(name, v)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(c)
}

fn refill(v: &Bound<'_, PyAny>) -> PyResult<keyhouse::Refill> {
    v.cast::<Refill>()
        .map(|r| r.get().inner)
        .map_err(|_| PyTypeError::new_err(format!("refill must be a keyhouse.Refill, not {}", type_name(v))))
}

fn rate_limit(v: &Bound<'_, PyAny>) -> PyResult<keyhouse::RateLimit> {
    v.cast::<RateLimit>()
        .map(|r| r.get().inner)
        .map_err(|_| PyTypeError::new_err(format!("rate_limit must be a keyhouse.RateLimit, not {}", type_name(v))))
}

fn create_options(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<CreateOptions> {
    let mut o = CreateOptions::default();
    for_each_kwarg(kwargs, "create()", |name, v| {
        if v.is_none() {
            // None means "not given" for every create option.
            return Ok(matches!(
                name,
                "owner_id"
                    | "name"
                    | "prefix"
                    | "expires_in"
                    | "expires_at"
                    | "permissions"
                    | "metadata"
                    | "remaining"
                    | "refill"
                    | "rate_limit"
            ));
        }
        match name {
            "owner_id" => o.owner_id = Some(string(name, v)?),
            "name" => o.name = Some(string(name, v)?),
            "prefix" => o.prefix = Some(string(name, v)?),
            "expires_in" => o.expires_in = Some(duration_from_py(name, v)?),
            "expires_at" => o.expires_at = Some(datetime_from_py(name, v)?),
            "permissions" => o.permissions = Some(strings(name, v)?),
            "metadata" => o.metadata = Some(metadata_from_py(v)?),
            "remaining" => o.remaining = Some(int_in(name, v, i64::MIN.into(), i64::MAX.into())?),
            "refill" => o.refill = Some(refill(v)?),
            "rate_limit" => o.rate_limit = Some(rate_limit(v)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(o)
}

fn update_options(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<UpdateOptions> {
    let mut o = UpdateOptions::default();
    for_each_kwarg(kwargs, "update()", |name, v| {
        // For clearable fields, None clears; `optional` maps the value otherwise.
        fn optional<T>(v: &Bound<'_, PyAny>, f: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>) -> PyResult<Option<T>> {
            if v.is_none() {
                Ok(None)
            } else {
                f(v).map(Some)
            }
        }
        match name {
            "name" => o.name = Some(optional(v, |v| string(name, v))?),
            "enabled" => o.enabled = Some(boolean(name, v)?),
            "permissions" => o.permissions = Some(strings(name, v)?),
            "metadata" => o.metadata = Some(metadata_from_py(v)?),
            "expires_at" => o.expires_at = Some(optional(v, |v| datetime_from_py(name, v))?),
            "remaining" => o.remaining = Some(optional(v, |v| int_in(name, v, i64::MIN.into(), i64::MAX.into()))?),
            "refill" => o.refill = Some(optional(v, refill)?),
            "rate_limit" => o.rate_limit = Some(optional(v, rate_limit)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(o)
}

/// An awaitable whose result is already known: awaiting it returns at once,
/// without a trip through the event loop (cheaper than a completed Future).
#[pyclass(module = "keyhouse._native")]
pub struct Ready {
    result: Option<PyResult<Py<PyAny>>>,
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Ends the await with the result (or its exception) on the first step.
    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.result.take() {
            Some(Ok(value)) => Err(pyo3::exceptions::PyStopIteration::new_err((value,))),
            Some(Err(e)) => Err(e),
            None => Err(pyo3::exceptions::PyRuntimeError::new_err("this result was already awaited")),
        }
        .map(|v: Py<PyAny>| v.clone_ref(py))
    }

    /// Always true: the answer was known when this was made.
    fn done(&self) -> bool {
        true
    }
}
