//! The one mapping from core errors to JavaScript exceptions.

use napi::bindgen_prelude::*;
use napi::{Env, Status};

/// `KeyhouseError`, defined in JavaScript so that it truly extends `Error`.
const CLASS_SOURCE: &str = r#"(class KeyhouseError extends Error {
  constructor(message, code, reason) {
    super(message);
    this.name = 'KeyhouseError';
    this.code = code;
    if (reason != null) this.reason = reason;
  }
})"#;

type ErrorArgs = FnArgs<(String, String, Option<String>)>;
type ErrorClass = FunctionRef<ErrorArgs, Unknown<'static>>;

/// Defines `KeyhouseError`, exports it, and keeps it for `js_error`.
pub fn install(env: &Env, exports: &mut Object) -> Result<()> {
    let class: Function<ErrorArgs, Unknown> = env.run_script(CLASS_SOURCE)?;
    let class_ref: ErrorClass = class.create_ref()?;
    exports.set_named_property("KeyhouseError", class)?;
    env.set_instance_data(class_ref, (), |_| {})?;
    Ok(())
}

/// A core error as a `KeyhouseError`, to throw or to reject a promise with.
pub fn js_error(env: &Env, e: keyhouse::Error) -> Error {
    let reason = match &e {
        keyhouse::Error::Malformed(r) => Some(r.code().to_owned()),
        _ => None,
    };
    let build = || -> Result<Error> {
        let class = env
            .get_instance_data::<ErrorClass>()?
            .ok_or_else(|| Error::new(Status::GenericFailure, "keyhouse: module not initialised"))?;
        let instance = class.borrow_back(env)?.new_instance((e.to_string(), e.code().as_str().to_owned(), reason).into())?;
        Ok(Error::from(instance))
    };
    build().unwrap_or_else(|failure| failure)
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
