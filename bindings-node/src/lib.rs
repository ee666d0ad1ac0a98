//! The `keyhouse` npm package's native module: the Keyhouse core for Node.js.
//!
//! This crate only converts values and maps errors; every rule lives in the
//! core. Errors are thrown as `KeyhouseError` (a subclass of `Error`) whose
//! `.code` is the core's stable code; wrong argument types throw `TypeError`.

mod convert;
mod errors;
mod js;
#[cfg(feature = "test-seams")]
mod seam;
mod self_service;
mod stateless;
mod store;
mod types;

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Defines the JavaScript side (see `js`) and exports `KeyhouseError` when the
/// module loads, once per thread: every worker gets its own class.
#[napi(module_exports)]
pub fn module_exports(mut exports: Object, env: Env) -> Result<()> {
    js::install(&env, &mut exports)
}
