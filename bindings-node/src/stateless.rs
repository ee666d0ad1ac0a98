//! `generate`, `parse`, `hashKey` and `verifyHash`: keys without a store.

use std::borrow::Cow;

use napi::bindgen_prelude::*;
use napi::{Env, ValueType};
use napi_derive::napi;

use crate::convert::{elements, integer, object, options, present, string, unhandled};
use crate::errors::{type_error, IntoJsResult};
use crate::types::{GeneratedKey, ParsedKey};

/// A key argument as text. Anything longer than the longest key is passed on
/// as the core's `OVERSIZED_KEY` (rejected as TOO_LONG either way), so a
/// 10 MB string is never copied.
pub fn key_text(env: &Env, v: Unknown<'_>) -> Result<Cow<'static, str>> {
    if v.get_type()? != ValueType::String {
        return Err(type_error(env, "key must be a string"));
    }
    let mut len = 0usize;
    // SAFETY: a null buffer asks Node-API for the UTF-8 length only.
    let status = unsafe { napi::sys::napi_get_value_string_utf8(v.env(), v.raw(), std::ptr::null_mut(), 0, &mut len) };
    if status == napi::sys::Status::napi_ok && len > keyhouse::format::MAX_KEY_LEN {
        return Ok(Cow::Borrowed(keyhouse::format::OVERSIZED_KEY));
    }
    Ok(Cow::Owned(unsafe { String::from_napi_value(v.env(), v.raw()) }?))
}

/// A pepper: `{ id: string, secret: Uint8Array }` (a `Buffer` will do).
pub fn pepper(env: &Env, name: &str, v: Unknown<'_>) -> Result<keyhouse::Pepper> {
    let obj = object(env, name, v)?;
    let id: Unknown = obj.get_named_property("id")?;
    let id = string(env, &format!("{name}.id"), id)?;
    let secret: Unknown = obj.get_named_property("secret")?;
    if !secret.is_typedarray()? {
        return Err(type_error(env, format!("{name}.secret must be a Uint8Array or Buffer")));
    }
    let bytes = unsafe { Uint8Array::from_napi_value(secret.env(), secret.raw()) }
        .map_err(|_| type_error(env, format!("{name}.secret must be a Uint8Array or Buffer")))?;
    keyhouse::Pepper::new(&id, &bytes).js(env)
}

/// An optional pepper argument.
pub fn opt_pepper(env: &Env, name: &str, v: Option<Unknown<'_>>) -> Result<Option<keyhouse::Pepper>> {
    present(v)?.map(|v| pepper(env, name, v)).transpose()
}

/// An optional array of peppers.
pub fn peppers(env: &Env, name: &str, v: Option<Unknown<'_>>) -> Result<Vec<keyhouse::Pepper>> {
    let Some(v) = present(v)? else { return Ok(Vec::new()) };
    elements(env, name, "an array of peppers", v, |item_name, item| pepper(env, item_name, item))
}

/// Generates a key: 32 random bytes of secret unless `secretBytes` says
/// otherwise, hashed with `pepper` if given.
#[napi(ts_args_type = "prefix?: string, options?: { secretBytes?: number; pepper?: Pepper }")]
pub fn generate(env: Env, prefix: Option<Unknown>, options: Option<Unknown>) -> Result<GeneratedKey> {
    let prefix = present(prefix)?
        .map(|p| string(&env, "prefix", p))
        .transpose()?
        .unwrap_or_else(|| keyhouse::format::DEFAULT_PREFIX.to_owned());
    let mut n = keyhouse::format::DEFAULT_SECRET_BYTES;
    let mut pepper_opt = None;
    self::options(&env, "options", options, &["secretBytes", "pepper"], |name, v| {
        match name {
            "secretBytes" => n = integer(&env, name, v, 0.0, 1024.0)? as usize,
            "pepper" => pepper_opt = opt_pepper(&env, name, Some(v))?,
            _ => return Err(unhandled(name)),
        }
        Ok(())
    })?;
    Ok(keyhouse::generate_with(&prefix, n, pepper_opt.as_ref()).js(&env)?.into())
}

/// The prefix and id of a well-formed key. Throws a `KeyhouseError` with
/// code `MALFORMED` and a `reason` otherwise.
#[napi(ts_args_type = "key: string")]
pub fn parse(env: Env, key: Unknown) -> Result<ParsedKey> {
    let key = key_text(&env, key)?;
    let p = keyhouse::parse(&key).js(&env)?;
    Ok(ParsedKey { prefix: p.prefix, id: p.id })
}

/// The tagged hash of a well-formed key: `sha256$…`, or
/// `hmac-sha256$<pepper id>$…` with a pepper.
#[napi(ts_args_type = "key: string, pepper?: Pepper")]
pub fn hash_key(env: Env, key: Unknown, pepper: Option<Unknown>) -> Result<String> {
    let key = key_text(&env, key)?;
    let pepper = opt_pepper(&env, "pepper", pepper)?;
    keyhouse::hash_key(&key, pepper.as_ref()).js(&env)
}

/// Whether `key` matches `storedHash`, compared in constant time.
#[napi(ts_args_type = "key: string, storedHash: string, peppers?: Pepper[]")]
pub fn verify_hash(env: Env, key: Unknown, stored_hash: Unknown, peppers: Option<Unknown>) -> Result<bool> {
    let key = key_text(&env, key)?;
    let stored = string(&env, "storedHash", stored_hash)?;
    let peppers = self::peppers(&env, "peppers", peppers)?;
    keyhouse::verify_hash(&key, &stored, &peppers).js(&env)
}

/// The HTTP status an API answers a request with this outcome: 200, 401
/// (the credential is no good), 403 (missing permissions) or 429 (a rate
/// limit or spent credits; see `retryAfter`). The same in every language,
/// decided by the core.
#[napi]
pub fn http_status(outcome: crate::types::Outcome) -> u32 {
    keyhouse::Outcome::from(outcome).http_status().into()
}

/// Runs the keyhouse CLI (`npx keyhouse`) with `args`, the program name
/// first, and returns its exit code. It is the core's CLI, the same program
/// as the Rust binary, writing straight to this process's stdout and stderr
/// (on the calling thread: it is meant for the `keyhouse` command, not a
/// server). JavaScript strings cannot carry arguments that are not UTF-8:
/// Node has already replaced such bytes with U+FFFD.
#[napi]
pub fn run_cli(args: Vec<String>) -> u32 {
    keyhouse::cli::run(args).into()
}
