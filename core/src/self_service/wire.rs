//! The JSON of the self-service contract: request bodies in, keys out.
//! Names are camelCase, durations are whole seconds, times are RFC 3339.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::policy::{RateLimitWire, RefillWire};
use crate::error::{Error, Result};
use crate::model::{CreatedKey, KeyInfo, Metadata};
use crate::Timestamp;

/// `POST /keys`. Unknown fields are refused, so a field the owner may not
/// set (or a typo) is an error, not silently dropped.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateBody {
    #[serde(deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(deserialize_with = "present")]
    pub expires_in: Option<u64>,
    #[serde(deserialize_with = "present")]
    pub permissions: Option<Vec<String>>,
    #[serde(deserialize_with = "present")]
    pub metadata: Option<Metadata>,
    #[serde(deserialize_with = "present")]
    pub prefix: Option<String>,
    #[serde(deserialize_with = "present")]
    pub remaining: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub refill: Option<RefillWire>,
    #[serde(deserialize_with = "present")]
    pub rate_limit: Option<RateLimitWire>,
}

/// `PATCH /keys/{id}`. A `null` name clears it; limits take `null` to
/// remove them (when the policy lets owners set limits at all).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UpdateBody {
    #[serde(deserialize_with = "nullable")]
    pub name: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    pub enabled: Option<bool>,
    #[serde(deserialize_with = "present")]
    pub metadata: Option<Metadata>,
    #[serde(deserialize_with = "nullable")]
    pub remaining: Option<Option<i64>>,
    #[serde(deserialize_with = "nullable")]
    pub refill: Option<Option<RefillWire>>,
    #[serde(deserialize_with = "nullable")]
    pub rate_limit: Option<Option<RateLimitWire>>,
}

impl UpdateBody {
    /// Whether the body touches credits, refill or rate limit.
    pub fn sets_limits(&self) -> bool {
        self.remaining.is_some() || self.refill.is_some() || self.rate_limit.is_some()
    }
}

/// `POST /keys/{id}/roll`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RollBody {
    #[serde(deserialize_with = "present")]
    pub grace: Option<u64>,
}

/// `POST /keys/{id}/revoke` takes `{}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmptyBody {}

/// A present field as `Some`, refusing `null`: where `null` means
/// nothing, a client sending it has a bug worth hearing about. An absent
/// field stays `None` through `#[serde(default)]`.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A present field, `null` included, as `Some`; an absent one stays `None`
/// through `#[serde(default)]`.
fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Reads a JSON object body. An empty body is refused like any other
/// non-object: every POST and PATCH sends at least `{}`.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    let value: Value = serde_json::from_slice(body).map_err(body_error)?;
    // Checked first: serde would also read a struct from a JSON array.
    if !value.is_object() {
        return Err(Error::invalid("the request body must be a JSON object ({} at least)"));
    }
    serde_json::from_value(value).map_err(body_error)
}

/// serde's message, which names the problem and where it is, with every
/// long word hidden: serde quotes the values and field names it refuses,
/// and a client that sends its key in the wrong field must not see it
/// echoed back (nor find it in the logs of whoever records 4xx bodies).
fn body_error(e: serde_json::Error) -> Error {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(if word.chars().count() > 24 { "(not shown)" } else { word });
        word.clear();
    };
    for c in e.to_string().chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    Error::invalid(format!("request body: {out}"))
}

/// A key as the API shows it. The owner is the caller, so it is not repeated.
pub(crate) fn key_json(info: &KeyInfo, now: Timestamp) -> Map<String, Value> {
    let time = |t: Option<Timestamp>| t.map(|t| Value::String(t.to_string())).unwrap_or(Value::Null);
    let status = if info.revoked_at.is_some() {
        "revoked"
    } else if info.expires_at.is_some_and(|t| t <= now) {
        "expired"
    } else if !info.enabled {
        "disabled"
    } else {
        "active"
    };
    let fields = json!({
        "id": info.id,
        "prefix": info.prefix,
        "name": info.name,
        "permissions": info.permissions,
        "metadata": info.metadata,
        "enabled": info.enabled,
        "status": status,
        "createdAt": info.created_at.to_string(),
        "updatedAt": info.updated_at.to_string(),
        "expiresAt": time(info.expires_at),
        "revokedAt": time(info.revoked_at),
        "lastUsedAt": time(info.last_used_at),
        "usageCount": info.usage_count,
        "remaining": info.remaining,
        "refill": info.refill.map(|r| json!({"amount": r.amount, "interval": r.interval.as_secs_f64()})),
        "rateLimit": info.rate_limit.map(|r| json!({"limit": r.limit, "window": r.window.as_secs_f64()})),
    });
    match fields {
        Value::Object(map) => map,
        // json! of an object literal is always an object.
        _ => Map::new(),
    }
}

/// A created or rolled key: its info plus the plaintext, which appears in
/// this one response and nowhere else.
pub(crate) fn created_json(created: &CreatedKey, now: Timestamp) -> Map<String, Value> {
    let mut map = key_json(&created.info, now);
    map.insert("key".into(), Value::String(created.key.clone()));
    map
}
