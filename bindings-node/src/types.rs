//! The values the API returns. Times are `Date`s, durations are seconds.

use chrono::{DateTime, Utc};
use napi::bindgen_prelude::{Result, ToNapiValue};
use napi::sys;
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::convert::{to_date, to_seconds};
use crate::js::{call, opt, Factory};

/// Milliseconds since the epoch, which the factories turn into `Date`s.
fn ms(d: DateTime<Utc>) -> f64 {
    d.timestamp_millis() as f64
}

// Results are built by the JavaScript factories in `js` (one call per
// object, fields in declaration order) instead of property by property.

impl ToNapiValue for Refill {
    unsafe fn to_napi_value(env: sys::napi_env, v: Self) -> Result<sys::napi_value> {
        unsafe {
            call(env, Factory::Refill, &[i64::to_napi_value(env, v.amount)?, f64::to_napi_value(env, v.interval)?])
        }
    }
}

impl ToNapiValue for RateLimit {
    unsafe fn to_napi_value(env: sys::napi_env, v: Self) -> Result<sys::napi_value> {
        unsafe {
            call(env, Factory::RateLimit, &[u32::to_napi_value(env, v.limit)?, f64::to_napi_value(env, v.window)?])
        }
    }
}

impl ToNapiValue for RateLimitState {
    unsafe fn to_napi_value(env: sys::napi_env, v: Self) -> Result<sys::napi_value> {
        let args = unsafe {
            [
                u32::to_napi_value(env, v.limit)?,
                f64::to_napi_value(env, v.window)?,
                u32::to_napi_value(env, v.remaining)?,
                f64::to_napi_value(env, ms(v.reset_at))?,
            ]
        };
        unsafe { call(env, Factory::RateLimitState, &args) }
    }
}

impl ToNapiValue for KeyInfo {
    unsafe fn to_napi_value(env: sys::napi_env, v: Self) -> Result<sys::napi_value> {
        let args = unsafe {
            [
                String::to_napi_value(env, v.id)?,
                String::to_napi_value(env, v.prefix)?,
                opt(env, v.owner_id)?,
                opt(env, v.name)?,
                Vec::<String>::to_napi_value(env, v.permissions)?,
                Map::<String, Value>::to_napi_value(env, v.metadata)?,
                bool::to_napi_value(env, v.enabled)?,
                f64::to_napi_value(env, ms(v.created_at))?,
                f64::to_napi_value(env, ms(v.updated_at))?,
                opt(env, v.expires_at.map(ms))?,
                opt(env, v.revoked_at.map(ms))?,
                opt(env, v.last_used_at.map(ms))?,
                i64::to_napi_value(env, v.usage_count)?,
                opt(env, v.remaining)?,
                opt(env, v.refill)?,
                opt(env, v.last_refill_at.map(ms))?,
                opt(env, v.rate_limit)?,
            ]
        };
        unsafe { call(env, Factory::KeyInfo, &args) }
    }
}

impl ToNapiValue for VerifyResult {
    unsafe fn to_napi_value(env: sys::napi_env, v: Self) -> Result<sys::napi_value> {
        let args = unsafe {
            [
                Outcome::to_napi_value(env, v.outcome)?,
                opt(env, v.key)?,
                opt(env, v.malformed_reason)?,
                opt(env, v.retry_after)?,
                opt(env, v.rate_limit)?,
            ]
        };
        unsafe { call(env, Factory::VerifyResult, &args) }
    }
}

impl ToNapiValue for KeyPage {
    unsafe fn to_napi_value(env: sys::napi_env, v: Self) -> Result<sys::napi_value> {
        let args = unsafe { [Vec::<KeyInfo>::to_napi_value(env, v.keys)?, opt(env, v.next_cursor)?] };
        unsafe { call(env, Factory::KeyPage, &args) }
    }
}

/// The outcome of verifying a key.
#[napi(string_enum)]
pub enum Outcome {
    /// The key is good.
    #[napi(value = "VALID")]
    Valid,
    /// Not a well-formed key; the store was not touched.
    #[napi(value = "MALFORMED")]
    Malformed,
    /// No key matches.
    #[napi(value = "NOT_FOUND")]
    NotFound,
    /// The key was revoked.
    #[napi(value = "REVOKED")]
    Revoked,
    /// The key is disabled.
    #[napi(value = "DISABLED")]
    Disabled,
    /// The key has expired.
    #[napi(value = "EXPIRED")]
    Expired,
    /// The key lacks a required permission.
    #[napi(value = "INSUFFICIENT_PERMISSIONS")]
    InsufficientPermissions,
    /// The rate limit is used up; see `retryAfter`.
    #[napi(value = "RATE_LIMITED")]
    RateLimited,
    /// Too few credits left.
    #[napi(value = "USAGE_EXCEEDED")]
    UsageExceeded,
}

impl From<Outcome> for keyhouse::Outcome {
    fn from(o: Outcome) -> Self {
        use keyhouse::Outcome as O;
        match o {
            Outcome::Valid => O::Valid,
            Outcome::Malformed => O::Malformed,
            Outcome::NotFound => O::NotFound,
            Outcome::Revoked => O::Revoked,
            Outcome::Disabled => O::Disabled,
            Outcome::Expired => O::Expired,
            Outcome::InsufficientPermissions => O::InsufficientPermissions,
            Outcome::RateLimited => O::RateLimited,
            Outcome::UsageExceeded => O::UsageExceeded,
        }
    }
}

impl From<keyhouse::Outcome> for Outcome {
    fn from(o: keyhouse::Outcome) -> Self {
        use keyhouse::Outcome as O;
        match o {
            O::Valid => Outcome::Valid,
            O::Malformed => Outcome::Malformed,
            O::NotFound => Outcome::NotFound,
            O::Revoked => Outcome::Revoked,
            O::Disabled => Outcome::Disabled,
            O::Expired => Outcome::Expired,
            O::InsufficientPermissions => Outcome::InsufficientPermissions,
            O::RateLimited => Outcome::RateLimited,
            O::UsageExceeded => Outcome::UsageExceeded,
            // The core's outcomes are non-exhaustive: one added there before
            // it is added here fails closed (the test below checks that
            // every current outcome has its own case).
            _ => Outcome::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_core_outcome_has_its_own_case() {
        let mapped: std::collections::HashSet<_> =
            keyhouse::Outcome::ALL.into_iter().map(|o| super::Outcome::from(o) as u32).collect();
        assert_eq!(mapped.len(), keyhouse::Outcome::ALL.len());
    }
}

/// Every `interval` seconds, `remaining` is reset to `amount`.
#[napi(object, object_to_js = false)]
#[derive(Clone)]
pub struct Refill {
    /// The value `remaining` is reset to.
    pub amount: i64,
    /// Seconds between resets.
    pub interval: f64,
}

/// At most `limit` verifications per `window` seconds.
#[napi(object, object_to_js = false)]
#[derive(Clone)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window, in seconds.
    pub window: f64,
}

/// A key's rate-limit state after a verification.
#[napi(object, object_to_js = false)]
pub struct RateLimitState {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window, in seconds.
    pub window: f64,
    /// Requests that would be allowed right now.
    pub remaining: u32,
    /// When the full limit is available again.
    pub reset_at: DateTime<Utc>,
}

/// Everything the store knows about a key, except its secret.
#[napi(object, object_to_js = false)]
pub struct KeyInfo {
    /// The public key id.
    pub id: String,
    /// The key's prefix.
    pub prefix: String,
    /// Who the key belongs to.
    pub owner_id: Option<String>,
    /// A human-readable name.
    pub name: Option<String>,
    /// Granted permissions.
    pub permissions: Vec<String>,
    /// Caller-defined data.
    #[napi(ts_type = "Record<string, unknown>")]
    pub metadata: Map<String, Value>,
    /// Whether the key is enabled.
    pub enabled: bool,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// When the key's settings last changed.
    pub updated_at: DateTime<Utc>,
    /// When the key expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The last successful verification.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Successful verifications so far.
    pub usage_count: i64,
    /// Credits left; absent for unlimited use.
    pub remaining: Option<i64>,
    /// The credit refill schedule.
    pub refill: Option<Refill>,
    /// When credits were last refilled.
    pub last_refill_at: Option<DateTime<Utc>>,
    /// The rate limit.
    pub rate_limit: Option<RateLimit>,
}

impl From<keyhouse::KeyInfo> for KeyInfo {
    fn from(i: keyhouse::KeyInfo) -> Self {
        KeyInfo {
            id: i.id,
            prefix: i.prefix,
            owner_id: i.owner_id,
            name: i.name,
            permissions: i.permissions,
            metadata: i.metadata,
            enabled: i.enabled,
            created_at: to_date(i.created_at),
            updated_at: to_date(i.updated_at),
            expires_at: i.expires_at.map(to_date),
            revoked_at: i.revoked_at.map(to_date),
            last_used_at: i.last_used_at.map(to_date),
            usage_count: i64::try_from(i.usage_count).unwrap_or(i64::MAX),
            remaining: i.remaining,
            refill: i.refill.map(|r| Refill { amount: r.amount, interval: to_seconds(r.interval) }),
            last_refill_at: i.last_refill_at.map(to_date),
            rate_limit: i.rate_limit.map(|r| RateLimit { limit: r.limit, window: to_seconds(r.window) }),
        }
    }
}

/// The result of verifying a key.
#[napi(object, object_to_js = false)]
pub struct VerifyResult {
    /// What happened.
    pub outcome: Outcome,
    /// The key's info, once its secret matched (any outcome but MALFORMED and NOT_FOUND).
    pub key: Option<KeyInfo>,
    /// Why the key is malformed, e.g. `CHECKSUM_MISMATCH`.
    pub malformed_reason: Option<String>,
    /// Seconds to wait before retrying, for RATE_LIMITED.
    pub retry_after: Option<f64>,
    /// The rate-limit state, for keys with a rate limit.
    pub rate_limit: Option<RateLimitState>,
}

impl From<keyhouse::VerifyResult> for VerifyResult {
    fn from(r: keyhouse::VerifyResult) -> Self {
        VerifyResult {
            outcome: r.outcome.into(),
            key: r.key.map(KeyInfo::from),
            malformed_reason: r.malformed_reason.map(|m| m.code().to_owned()),
            retry_after: r.retry_after.map(to_seconds),
            rate_limit: r.rate_limit.map(|s| RateLimitState {
                limit: s.limit,
                window: to_seconds(s.window),
                remaining: s.remaining,
                reset_at: to_date(s.reset_at),
            }),
        }
    }
}

/// One page of keys, oldest first.
#[napi(object, object_to_js = false)]
pub struct KeyPage {
    /// The keys on this page.
    pub keys: Vec<KeyInfo>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<keyhouse::KeyPage> for KeyPage {
    fn from(p: keyhouse::KeyPage) -> Self {
        KeyPage { keys: p.keys.into_iter().map(KeyInfo::from).collect(), next_cursor: p.next_cursor }
    }
}

/// The public parts of a well-formed key.
#[napi(object)]
pub struct ParsedKey {
    /// The prefix.
    pub prefix: String,
    /// The public key id.
    pub id: String,
}

/// A new key: the plaintext, shown once, and its info. The plaintext is a
/// getter, so `console.log` and `JSON.stringify` never show it.
#[napi]
pub struct CreatedKey {
    key: String,
    info: keyhouse::KeyInfo,
}

#[napi]
impl CreatedKey {
    /// The plaintext key. It is not stored and cannot be shown again.
    #[napi(getter)]
    pub fn key(&self) -> String {
        self.key.clone()
    }

    /// The stored info.
    #[napi(getter)]
    pub fn info(&self) -> KeyInfo {
        self.info.clone().into()
    }

    /// The info only: a serialised `CreatedKey` never carries the key.
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> KeyInfo {
        self.info.clone().into()
    }
}

impl From<keyhouse::CreatedKey> for CreatedKey {
    fn from(c: keyhouse::CreatedKey) -> Self {
        CreatedKey { key: c.key, info: c.info }
    }
}

/// A key made by `generate`, with its id and hash. The plaintext is a getter,
/// so `console.log` and `JSON.stringify` never show it.
#[napi]
pub struct GeneratedKey {
    inner: keyhouse::GeneratedKey,
}

#[napi]
impl GeneratedKey {
    /// The plaintext key.
    #[napi(getter)]
    pub fn key(&self) -> String {
        self.inner.key.clone()
    }

    /// The public key id.
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id.clone()
    }

    /// The prefix.
    #[napi(getter)]
    pub fn prefix(&self) -> String {
        self.inner.prefix.clone()
    }

    /// The tagged hash to store.
    #[napi(getter)]
    pub fn hash(&self) -> String {
        self.inner.hash.clone()
    }

    /// The id, prefix and hash only: a serialised `GeneratedKey` never carries the key.
    #[napi(js_name = "toJSON", ts_return_type = "{ id: string; prefix: string; hash: string }")]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "id": self.inner.id, "prefix": self.inner.prefix, "hash": self.inner.hash })
    }
}

impl From<keyhouse::GeneratedKey> for GeneratedKey {
    fn from(inner: keyhouse::GeneratedKey) -> Self {
        GeneratedKey { inner }
    }
}
