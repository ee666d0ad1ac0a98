//! The one mapping from core errors to JavaScript exceptions.

use napi::bindgen_prelude::*;
use napi::{Env, Status};

/// A core error as a `KeyhouseError`, to throw or to reject a promise with.
pub fn js_error(env: &Env, e: keyhouse::Error) -> Error {
    let reason = match &e {
        keyhouse::Error::Malformed(r) => Some(r.code()),
        _ => None,
    };
    match crate::js::new_error(env, &e.to_string(), e.code().as_str(), reason) {
        Ok(raw) => Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), raw) }),
        Err(failure) => failure,
    }
}

/// Throws a `TypeError`; returns the marker error for `?`.
pub fn type_error(env: &Env, msg: impl AsRef<str>) -> Error {
    let _ = env.throw_type_error(msg.as_ref(), None);
    Error::new(Status::PendingException, msg.as_ref().to_owned())
}

/// Adds `js_error` to results from the core.
pub trait IntoJsResult<T> {
    /// Maps a core error to a `KeyhouseError`.
    fn js(self, env: &Env) -> Result<T>;
}

impl<T> IntoJsResult<T> for keyhouse::Result<T> {
    fn js(self, env: &Env) -> Result<T> {
        self.map_err(|e| js_error(env, e))
    }
}
