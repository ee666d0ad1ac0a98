//! Conversions between Python values and the core's types.
//!
//! Timestamps are aware UTC `datetime`s, durations are `timedelta`s or
//! seconds, metadata is a JSON-compatible `dict`.

use std::time::Duration;

use keyhouse::{Metadata, Timestamp};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::Value;

use crate::errors::invalid;

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static EPOCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ONE_MS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn timedelta(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    TIMEDELTA.import(py, "datetime", "timedelta")
}

fn epoch(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    EPOCH
        .get_or_try_init(py, || {
            let utc = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("tzinfo", utc)?;
            Ok::<_, PyErr>(DATETIME.import(py, "datetime", "datetime")?.call((1970, 1, 1), Some(&kwargs))?.unbind())
        })
        .map(|e| e.bind(py))
}

fn one_ms(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    ONE_MS
        .get_or_try_init(py, || {
            let kwargs = PyDict::new(py);
            kwargs.set_item("milliseconds", 1)?;
            Ok::<_, PyErr>(timedelta(py)?.call((), Some(&kwargs))?.unbind())
        })
        .map(|d| d.bind(py))
}

/// An aware UTC `datetime` for a timestamp, exact to the millisecond.
pub fn datetime_to_py(py: Python<'_>, t: Timestamp) -> PyResult<Py<PyAny>> {
    Ok(epoch(py)?.add(one_ms(py)?.mul(t.as_millis())?)?.unbind())
}

/// A timestamp from an aware `datetime`; naive ones are refused, since
/// guessing their zone is how expiry bugs start.
pub fn datetime_from_py(field: &str, v: &Bound<'_, PyAny>) -> PyResult<Timestamp> {
    let py = v.py();
    if !v.is_instance(DATETIME.import(py, "datetime", "datetime")?)? {
        return Err(PyTypeError::new_err(format!("{field} must be a datetime, not {}", type_name(v))));
    }
    if v.call_method0("utcoffset")?.is_none() {
        return Err(invalid(py, format!("{field} must be timezone-aware (e.g. datetime.now(timezone.utc))")));
    }
    let ms: i64 = v.sub(epoch(py)?)?.floor_div(one_ms(py)?)?.extract()?;
    Ok(Timestamp::from_millis(ms))
}

/// A `timedelta` for a duration.
pub fn duration_to_py(py: Python<'_>, d: Duration) -> PyResult<Py<PyAny>> {
    Ok(one_ms(py)?.mul(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))?.unbind())
}

/// A duration from a `timedelta` or a number of seconds; negative, NaN or
/// infinite values are refused.
pub fn duration_from_py(field: &str, v: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let py = v.py();
    let ms: i128 = if v.is_instance(timedelta(py)?)? {
        v.floor_div(one_ms(py)?)?.extract()?
    } else if v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!("{field} must be a timedelta or seconds, not bool")));
    } else if v.is_instance_of::<PyInt>() {
        let secs: i128 = v.extract().map_err(|_| invalid(py, format!("{field} is out of range")))?;
        secs.saturating_mul(1000)
    } else if v.is_instance_of::<PyFloat>() {
        let secs: f64 = v.extract()?;
        if !secs.is_finite() {
            return Err(invalid(py, format!("{field} must be finite")));
        }
        (secs * 1000.0).round() as i128
    } else {
        return Err(PyTypeError::new_err(format!("{field} must be a timedelta or seconds, not {}", type_name(v))));
    };
    if ms < 0 {
        return Err(invalid(py, format!("{field} must not be negative")));
    }
    Ok(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
}

/// An integer argument in `range`, as a `ValueError` when outside it.
pub fn int_in<T: TryFrom<i128>>(field: &str, v: &Bound<'_, PyAny>, lo: i128, hi: i128) -> PyResult<T> {
    let py = v.py();
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!("{field} must be an int, not {}", type_name(v))));
    }
    let n: i128 = v.extract().map_err(|_| invalid(py, format!("{field} is out of range")))?;
    if n < lo || n > hi {
        return Err(invalid(py, format!("{field} must be between {lo} and {hi}, got {n}")));
    }
    T::try_from(n).map_err(|_| invalid(py, format!("{field} is out of range")))
}

/// A `str` argument.
pub fn string(field: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    match v.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!("{field} must be a str, not {}", type_name(v)))),
    }
}

/// A `list[str]` (or tuple) argument; a bare `str` is refused, since it would
/// otherwise be read as a list of characters.
pub fn strings(field: &str, v: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if v.is_instance_of::<PyString>() || !(v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>()) {
        return Err(PyTypeError::new_err(format!("{field} must be a list of str, not {}", type_name(v))));
    }
    v.try_iter()?.map(|item| string(field, &item?)).collect()
}

/// A `bool` argument.
pub fn boolean(field: &str, v: &Bound<'_, PyAny>) -> PyResult<bool> {
    match v.cast::<PyBool>() {
        Ok(b) => Ok(b.is_true()),
        Err(_) => Err(PyTypeError::new_err(format!("{field} must be a bool, not {}", type_name(v)))),
    }
}

/// Metadata from a `dict` of JSON-compatible values.
pub fn metadata_from_py(v: &Bound<'_, PyAny>) -> PyResult<Metadata> {
    match json_from_py("metadata", v, 0)? {
        Value::Object(m) => Ok(m),
        _ => Err(PyTypeError::new_err(format!("metadata must be a dict, not {}", type_name(v)))),
    }
}

fn json_from_py(path: &str, v: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    let py = v.py();
    if depth > 32 {
        return Err(invalid(py, "metadata is nested more than 32 levels deep"));
    }
    if v.is_none() {
        Ok(Value::Null)
    } else if let Ok(b) = v.cast::<PyBool>() {
        Ok(Value::Bool(b.is_true()))
    } else if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            Ok(Value::from(i))
        } else {
            v.extract::<u64>()
                .map(Value::from)
                .map_err(|_| invalid(py, format!("{path}: integer out of the 64-bit range")))
        }
    } else if let Ok(f) = v.cast::<PyFloat>() {
        serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| invalid(py, format!("{path}: NaN and infinity are not JSON")))
    } else if let Ok(s) = v.cast::<PyString>() {
        Ok(Value::String(s.to_cow()?.into_owned()))
    } else if let Ok(d) = v.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, item) in d.iter() {
            let k = k.cast::<PyString>().map_err(|_| PyTypeError::new_err(format!("{path}: dict keys must be str")))?;
            let key = k.to_cow()?.into_owned();
            let value = json_from_py(&format!("{path}.{key}"), &item, depth + 1)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        v.try_iter()?.map(|item| json_from_py(path, &item?, depth + 1)).collect::<PyResult<_>>().map(Value::Array)
    } else {
        Err(PyTypeError::new_err(format!("{path}: {} is not JSON-compatible", type_name(v))))
    }
}

/// JSON as plain Python values (`dict`, `list`, `str`, `int`, `float`, `bool`, `None`).
pub fn json_to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any().unbind(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any().unbind(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any().unbind(),
        },
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(a) => {
            PyList::new(py, a.iter().map(|x| json_to_py(py, x)).collect::<PyResult<Vec<_>>>()?)?.into_any().unbind()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any().unbind()
        }
    })
}

/// The type name of a value, for error messages.
pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}
