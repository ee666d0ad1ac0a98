//! JavaScript defined once per environment (main thread or worker) when the
//! module loads: the `KeyhouseError` class, and factories that build result
//! objects.
//!
//! A factory takes the fields as arguments and returns an object literal,
//! which V8 builds with one fixed shape. That is several times cheaper than
//! creating an object and setting its properties one Node-API call at a time,
//! and results are built on every verify.

use std::cell::Cell;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::{check_status, sys, Env};

const SOURCE: &str = r#"({
  KeyhouseError: class KeyhouseError extends Error {
    constructor(message, code, reason) {
      super(message);
      this.name = 'KeyhouseError';
      this.code = code;
      if (reason != null) this.reason = reason;
    }
  },
  keyInfo: (id, prefix, ownerId, name, permissions, metadata, enabled, createdAt, updatedAt, expiresAt,
            revokedAt, lastUsedAt, usageCount, remaining, refill, lastRefillAt, rateLimit) => ({
    id, prefix, ownerId, name, permissions, metadata, enabled,
    createdAt: new Date(createdAt),
    updatedAt: new Date(updatedAt),
    expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt),
    revokedAt: revokedAt === undefined ? undefined : new Date(revokedAt),
    lastUsedAt: lastUsedAt === undefined ? undefined : new Date(lastUsedAt),
    usageCount, remaining, refill,
    lastRefillAt: lastRefillAt === undefined ? undefined : new Date(lastRefillAt),
    rateLimit,
  }),
  verifyResult: (outcome, key, malformedReason, retryAfter, rateLimit) =>
    ({ outcome, key, malformedReason, retryAfter, rateLimit }),
  rateLimitState: (limit, window, remaining, resetAt) => ({ limit, window, remaining, resetAt: new Date(resetAt) }),
  refill: (amount, interval) => ({ amount, interval }),
  rateLimit: (limit, window) => ({ limit, window }),
  keyPage: (keys, nextCursor) => ({ keys, nextCursor }),
})"#;

/// The functions of `SOURCE`, by position in `NAMES`.
#[derive(Clone, Copy)]
pub enum Factory {
    KeyhouseError = 0,
    KeyInfo,
    VerifyResult,
    RateLimitState,
    Refill,
    RateLimit,
    KeyPage,
}

const NAMES: [&str; 7] =
    ["KeyhouseError", "keyInfo", "verifyResult", "rateLimitState", "refill", "rateLimit", "keyPage"];

/// References that keep the functions alive for the environment's lifetime.
struct Functions([sys::napi_ref; NAMES.len()]);

thread_local! {
    // The environment that loaded the module on this thread, and its
    // references: found without a Node-API call on every result built.
    static LOCAL: Cell<Option<(sys::napi_env, [sys::napi_ref; NAMES.len()])>> = const { Cell::new(None) };
}

/// Defines the functions, exports `KeyhouseError`, and keeps them all.
pub fn install(env: &Env, exports: &mut Object) -> Result<()> {
    let all: Object = env.run_script(SOURCE)?;
    let mut refs = [ptr::null_mut(); NAMES.len()];
    for (slot, name) in refs.iter_mut().zip(NAMES) {
        let f: Unknown = all.get_named_property(name)?;
        check_status!(unsafe { sys::napi_create_reference(env.raw(), f.raw(), 1, slot) })?;
    }
    let class: Unknown = all.get_named_property("KeyhouseError")?;
    exports.set_named_property("KeyhouseError", class)?;
    // The references live as long as the environment, like the module. When
    // the environment goes, so does the fast path, so a later environment
    // at the same address can never see these references.
    env.set_instance_data(Functions(refs), (), |ctx| {
        let gone = ctx.env.raw();
        LOCAL.with(|l| {
            if l.get().is_some_and(|(local, _)| local == gone) {
                l.set(None);
            }
        });
    })?;
    LOCAL.with(|l| l.set(Some((env.raw(), refs))));
    Ok(())
}

fn function(env: sys::napi_env, which: Factory) -> Result<sys::napi_value> {
    let refs = match LOCAL.with(Cell::get) {
        Some((local, refs)) if local == env => refs,
        _ => {
            Env::from_raw(env)
                .get_instance_data::<Functions>()?
                .ok_or_else(|| Error::new(Status::GenericFailure, "keyhouse: module not initialised"))?
                .0
        }
    };
    let mut f = ptr::null_mut();
    check_status!(unsafe { sys::napi_get_reference_value(env, refs[which as usize], &mut f) })?;
    Ok(f)
}

/// Calls a factory with already converted arguments.
///
/// # Safety
/// `env` must be the current, valid environment and `args` values in it.
pub unsafe fn call(env: sys::napi_env, which: Factory, args: &[sys::napi_value]) -> Result<sys::napi_value> {
    let f = function(env, which)?;
    let mut this = ptr::null_mut();
    check_status!(unsafe { sys::napi_get_undefined(env, &mut this) })?;
    let mut result = ptr::null_mut();
    check_status!(unsafe { sys::napi_call_function(env, this, f, args.len(), args.as_ptr(), &mut result) })?;
    Ok(result)
}

/// Constructs a `KeyhouseError`.
pub fn new_error(env: &Env, message: &str, code: &str, reason: Option<&str>) -> Result<sys::napi_value> {
    let raw = env.raw();
    let class = function(raw, Factory::KeyhouseError)?;
    let args = unsafe {
        [
            <&str>::to_napi_value(raw, message)?,
            <&str>::to_napi_value(raw, code)?,
            Option::<&str>::to_napi_value(raw, reason)?,
        ]
    };
    let mut instance = ptr::null_mut();
    check_status!(unsafe { sys::napi_new_instance(raw, class, args.len(), args.as_ptr(), &mut instance) })?;
    Ok(instance)
}

/// A value, or `undefined` for `None` (an absent field, as the types declare it).
///
/// # Safety
/// `env` must be the current, valid environment.
pub unsafe fn opt<T: ToNapiValue>(env: sys::napi_env, v: Option<T>) -> Result<sys::napi_value> {
    match v {
        Some(v) => unsafe { T::to_napi_value(env, v) },
        None => {
            let mut undefined = ptr::null_mut();
            check_status!(unsafe { sys::napi_get_undefined(env, &mut undefined) })?;
            Ok(undefined)
        }
    }
}
