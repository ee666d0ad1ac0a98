//! The one mapping from core errors to Python exceptions.
//!
//! The exception classes live in `keyhouse/errors.py`, so they can inherit
//! from both `KeyhouseError` and the matching built-in (`ValueError`,
//! `LookupError`, …). Each carries `.code`, the core's stable code.

use keyhouse::{Error, ErrorCode};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The Python class for each core error code.
fn class_for(py: Python<'_>, code: ErrorCode) -> PyResult<&Bound<'_, PyType>> {
    static CLASSES: [PyOnceLock<Py<PyType>>; ErrorCode::ALL.len()] =
        [const { PyOnceLock::new() }; ErrorCode::ALL.len()];
    let (slot, name) = match code {
        ErrorCode::Malformed => (0, "MalformedError"),
        ErrorCode::InvalidArgument => (1, "InvalidArgumentError"),
        ErrorCode::NotFound => (2, "NotFoundError"),
        ErrorCode::KeyLimitExceeded => (3, "KeyLimitExceededError"),
        ErrorCode::UnknownPepper => (4, "UnknownPepperError"),
        ErrorCode::SchemaTooNew => (5, "SchemaTooNewError"),
        ErrorCode::StoreBusy => (6, "StoreBusyError"),
        ErrorCode::StoreError => (7, "StoreError"),
        ErrorCode::Closed => (8, "ClosedError"),
        // The core's codes are non-exhaustive: one added there before it is
        // mapped here is still a failure, raised as the generic StoreError.
        _ => (7, "StoreError"),
    };
    CLASSES[slot].import(py, "keyhouse.errors", name)
}

/// Converts a core error into the matching `keyhouse.errors` exception.
pub fn map_error(py: Python<'_>, e: Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let instance = class_for(py, e.code())?.call1((e.to_string(),))?;
        if let Error::Malformed(reason) = &e {
            instance.setattr("reason", reason.code())?;
        }
        Ok(PyErr::from_value(instance))
    };
    // If the classes cannot be imported, the import error says why.
    build().unwrap_or_else(|import_error| import_error)
}

/// Shorthand for `ValueError`-flavoured misuse found while converting arguments.
pub fn invalid(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    map_error(py, Error::InvalidArgument(msg.into()))
}

/// Adds `map_error` to results from the core.
pub trait IntoPyResult<T> {
    /// Maps a core error to its Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| map_error(py, e))
    }
}
