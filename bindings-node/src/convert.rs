//! Conversions from JavaScript arguments to the core's types. Wrong types
//! throw `TypeError`; values of the right type but out of range throw a
//! `KeyhouseError` with code `INVALID_ARGUMENT`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use keyhouse::{Metadata, Timestamp};
use napi::bindgen_prelude::*;
use napi::{Env, ValueType};
use serde_json::Value;

use crate::errors::{js_error, type_error};

/// An argument that may be missing: `undefined` and `null` both read as absent.
pub fn present(v: Option<Unknown<'_>>) -> Result<Option<Unknown<'_>>> {
    match v {
        Some(v) if !matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) => Ok(Some(v)),
        _ => Ok(None),
    }
}

fn kind(v: &Unknown<'_>) -> Result<&'static str> {
    Ok(match v.get_type()? {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "boolean",
        ValueType::Number => "number",
        ValueType::String => "string",
        ValueType::Symbol => "symbol",
        ValueType::Object if v.is_array()? => "array",
        ValueType::Object => "object",
        ValueType::Function => "function",
        ValueType::BigInt => "bigint",
        _ => "value",
    })
}

fn expect(env: &Env, name: &str, want: &str, v: &Unknown<'_>) -> Error {
    let got = kind(v).unwrap_or("value");
    type_error(env, format!("{name} must be {want}, not {got}"))
}

/// A core `INVALID_ARGUMENT` error.
pub fn invalid(env: &Env, msg: impl Into<String>) -> Error {
    js_error(env, keyhouse::Error::InvalidArgument(msg.into()))
}

/// A string argument.
pub fn string(env: &Env, name: &str, v: Unknown<'_>) -> Result<String> {
    if v.get_type()? != ValueType::String {
        return Err(expect(env, name, "a string", &v));
    }
    unsafe { String::from_napi_value(v.env(), v.raw()) }
}

/// A boolean argument.
pub fn boolean(env: &Env, name: &str, v: Unknown<'_>) -> Result<bool> {
    if v.get_type()? != ValueType::Boolean {
        return Err(expect(env, name, "a boolean", &v));
    }
    unsafe { bool::from_napi_value(v.env(), v.raw()) }
}

/// A finite number argument.
pub fn number(env: &Env, name: &str, v: Unknown<'_>) -> Result<f64> {
    if v.get_type()? != ValueType::Number {
        return Err(expect(env, name, "a number", &v));
    }
    let n = unsafe { f64::from_napi_value(v.env(), v.raw()) }?;
    if !n.is_finite() {
        return Err(invalid(env, format!("{name} must be finite")));
    }
    Ok(n)
}

/// An integer argument in `lo..=hi`.
pub fn integer(env: &Env, name: &str, v: Unknown<'_>, lo: f64, hi: f64) -> Result<i64> {
    let n = number(env, name, v)?;
    if n.fract() != 0.0 || n < lo || n > hi {
        return Err(invalid(env, format!("{name} must be an integer from {lo} to {hi}, got {n}")));
    }
    Ok(n as i64)
}

/// A duration in seconds (fractions allowed), not negative.
pub fn seconds(env: &Env, name: &str, v: Unknown<'_>) -> Result<Duration> {
    let s = number(env, name, v)?;
    if s < 0.0 {
        return Err(invalid(env, format!("{name} must not be negative")));
    }
    Ok(Duration::from_millis((s * 1000.0).round().min(u64::MAX as f64) as u64))
}

/// Seconds as a JavaScript number.
pub fn to_seconds(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

/// A `Date` argument.
pub fn date(env: &Env, name: &str, v: Unknown<'_>) -> Result<Timestamp> {
    if !v.is_date()? {
        return Err(expect(env, name, "a Date", &v));
    }
    let t = unsafe { DateTime::<Utc>::from_napi_value(v.env(), v.raw()) }
        .map_err(|_| invalid(env, format!("{name} is an invalid Date")))?;
    Ok(Timestamp::from_millis(t.timestamp_millis()))
}

/// A timestamp as a `Date`.
pub fn to_date(t: Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(t.as_millis()).unwrap_or_default()
}

/// Converts each element of an array argument (`want` names it in errors);
/// `each` gets the element's name (`name[i]`) and value.
pub fn elements<T>(
    env: &Env,
    name: &str,
    want: &str,
    v: Unknown<'_>,
    mut each: impl FnMut(&str, Unknown<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    if !v.is_array()? {
        return Err(expect(env, name, want, &v));
    }
    let array = unsafe { Array::from_napi_value(v.env(), v.raw()) }?;
    (0..array.len())
        .map(|i| {
            let item: Unknown = array.get(i)?.ok_or_else(|| type_error(env, format!("{name} has a hole")))?;
            each(&format!("{name}[{i}]"), item)
        })
        .collect()
}

/// An array of strings.
pub fn strings(env: &Env, name: &str, v: Unknown<'_>) -> Result<Vec<String>> {
    elements(env, name, "an array of strings", v, |item_name, item| string(env, item_name, item))
}

/// A plain object, for option bags.
pub fn object<'a>(env: &Env, name: &str, v: Unknown<'a>) -> Result<Object<'a>> {
    if v.get_type()? != ValueType::Object || v.is_array()? {
        return Err(expect(env, name, "an object", &v));
    }
    unsafe { Object::from_napi_value(v.env(), v.raw()) }
}

/// Metadata: a plain object of JSON values.
pub fn metadata(env: &Env, v: Unknown<'_>) -> Result<Metadata> {
    object(env, "metadata", v)?;
    match unsafe { Value::from_napi_value(v.env(), v.raw()) } {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(type_error(env, "metadata must be an object")),
        Err(e) => Err(type_error(env, format!("metadata must hold only JSON values: {}", e.reason))),
    }
}

/// Reads an option bag, refusing names it does not know so that typos fail loudly.
pub fn options<'a>(
    env: &Env,
    what: &str,
    v: Option<Unknown<'a>>,
    known: &[&str],
    mut each: impl FnMut(&str, Unknown<'a>) -> Result<()>,
) -> Result<()> {
    let Some(v) = present(v)? else { return Ok(()) };
    let obj = object(env, what, v)?;
    let names = obj.get_property_names()?;
    let names = unsafe { Array::from_napi_value(names.env(), names.raw()) }?;
    for i in 0..names.len() {
        let name: String = names.get(i)?.unwrap_or_default();
        if !known.contains(&name.as_str()) {
            return Err(type_error(env, format!("{what} has an unknown option {name:?}")));
        }
        let value: Unknown = obj.get_named_property(&name)?;
        each(&name, value)?;
    }
    Ok(())
}

/// Whether an option value is `undefined` or `null`.
pub fn is_nullish(v: &Unknown<'_>) -> Result<bool> {
    Ok(matches!(v.get_type()?, ValueType::Undefined | ValueType::Null))
}

/// A name in an option list without its own match arm: a bug in this
/// binding, reported instead of silently setting some other field.
pub fn unhandled(name: &str) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("keyhouse binding bug: option {name} is not handled"))
}
