//! The records and enums the bindings see, and their conversions from the core.
//!
//! Integers are signed 64-bit throughout (`Long`, `Int64`): Kotlin's unsigned
//! types are awkward to use, and a negative count gets a clear
//! INVALID_ARGUMENT from [`crate::convert`] instead.

use std::sync::Arc;

use keyhouse::Timestamp;

use crate::convert::metadata_text;
use crate::keys::Pepper;

uniffi::custom_type!(Timestamp, i64, {
    remote,
    lower: |t| t.as_millis(),
    try_lift: |ms| Ok(Timestamp::from_millis(ms)),
});

/// A length of time, in whole milliseconds. Kotlin sees a
/// `java.time.Duration`, Swift a `TimeInterval`.
///
/// It crosses the FFI as signed milliseconds so that a negative duration
/// reaches the core and is refused with INVALID_ARGUMENT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeSpan {
    /// Milliseconds; negative only in input, where it is refused.
    pub millis: i64,
}

uniffi::custom_type!(TimeSpan, i64, {
    lower: |s| s.millis,
    try_lift: |millis| Ok(TimeSpan { millis }),
});

impl From<std::time::Duration> for TimeSpan {
    fn from(d: std::time::Duration) -> Self {
        TimeSpan { millis: keyhouse::duration_millis(d) }
    }
}

/// Declares an enum that mirrors a core enum case for case, with
/// conversions both ways and a `code()` method for its stable code.
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident = $core:ty, $code:ident, unknown => $fallback:ident, { $($(#[$vdoc:meta])* $variant:ident,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                match v {
                    $(<$core>::$variant => Self::$variant,)+
                    // The core's enums are non-exhaustive; a case added there
                    // before it is added here must fail closed, never panic.
                    // The tests below check that every current case maps.
                    _ => Self::$fallback,
                }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => <$core>::$variant,)+
                }
            }
        }

        #[uniffi::export]
        impl $name {
            /// The stable code, e.g. `CHECKSUM_MISMATCH`: the same in every language.
            pub fn code(&self) -> String {
                <$core>::from(*self).$code().to_owned()
            }
        }
    };
}

mirror_enum! {
    /// The outcome of verifying a key. Every outcome is a value, not an error.
    Outcome = keyhouse::Outcome, as_str, unknown => NotFound, {
        /// The key is good; the request may proceed.
        Valid,
        /// The string is not a well-formed key. The store was not touched.
        Malformed,
        /// No key matches (unknown id, or the secret does not match).
        NotFound,
        /// The key was revoked.
        Revoked,
        /// The key is disabled.
        Disabled,
        /// The key is past its expiry.
        Expired,
        /// The key lacks a required permission.
        InsufficientPermissions,
        /// The key's rate limit is used up; see `retry_after`.
        RateLimited,
        /// The key has too few credits left for this request's cost.
        UsageExceeded,
    }
}

#[uniffi::export]
impl Outcome {
    /// The HTTP status an API answers a request with this outcome: 200,
    /// 401 (the credential is no good), 403 (missing permissions) or 429
    /// (a rate limit or spent credits; see `retryAfter`).
    pub fn http_status(&self) -> u16 {
        keyhouse::Outcome::from(*self).http_status()
    }
}

mirror_enum! {
    /// Why a string is not a well-formed key.
    MalformedReason = keyhouse::MalformedReason, code, unknown => InvalidCharacter, {
        /// The input is empty.
        Empty,
        /// The input is longer than any key can be.
        TooLong,
        /// A character outside `[0-9A-Za-z_]`.
        InvalidCharacter,
        /// A `_` separator is missing.
        MissingSeparator,
        /// The prefix breaks the prefix rules.
        InvalidPrefix,
        /// The id part is not 14 base62 characters.
        InvalidId,
        /// The secret part has a length no secret size produces.
        InvalidSecretLength,
        /// The checksum does not match the rest of the key.
        ChecksumMismatch,
    }
}

/// Credits restored on a schedule: every `interval`, `remaining` is reset to `amount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Refill {
    /// The value `remaining` is reset to.
    pub amount: i64,
    /// How often the reset happens.
    pub interval: TimeSpan,
}

/// At most `limit` verifications in any window of length `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: i64,
    /// The window length.
    pub window: TimeSpan,
}

/// A key's rate-limit state after a verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RateLimitState {
    /// Requests allowed per window.
    pub limit: i64,
    /// The window length.
    pub window: TimeSpan,
    /// Requests that would be allowed right now, after this one.
    pub remaining: i64,
    /// When the full `limit` is available again.
    pub reset_at: Timestamp,
}

/// Everything the store knows about a key, except its secret.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct KeyInfo {
    /// The public key id.
    pub id: String,
    /// The key's prefix.
    pub prefix: String,
    /// Who the key belongs to, if set.
    pub owner_id: Option<String>,
    /// A human-readable name.
    pub name: Option<String>,
    /// Granted permissions, e.g. `files:read`, `files:*` or `*`.
    pub permissions: Vec<String>,
    /// Caller-defined data, as JSON object text (`{}` when there is none).
    pub metadata: String,
    /// Whether the key is enabled. A disabled key verifies as DISABLED.
    pub enabled: bool,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key's settings last changed.
    pub updated_at: Timestamp,
    /// When the key expires, if ever.
    pub expires_at: Option<Timestamp>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// The last successful verification, written in batches.
    pub last_used_at: Option<Timestamp>,
    /// Successful verifications so far, written in batches.
    pub usage_count: i64,
    /// Credits left, or none for unlimited use.
    pub remaining: Option<i64>,
    /// The credit refill schedule, if any.
    pub refill: Option<Refill>,
    /// When credits were last refilled.
    pub last_refill_at: Option<Timestamp>,
    /// The rate limit, if any.
    pub rate_limit: Option<RateLimit>,
}

/// The prefix and id of a well-formed key.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ParsedKey {
    /// The key's prefix, e.g. `acme_live`.
    pub prefix: String,
    /// The public key id.
    pub id: String,
}

/// One page of keys, oldest first.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct KeyPage {
    /// The keys on this page.
    pub keys: Vec<KeyInfo>,
    /// Pass this as `cursor` for the next page; none on the last page.
    pub next_cursor: Option<String>,
}

/// The result of verifying a key.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct VerifyResult {
    /// What happened.
    pub outcome: Outcome,
    /// The key's info, once its secret has matched (any outcome but
    /// MALFORMED and NOT_FOUND). For VALID it reflects this verification.
    pub key: Option<KeyInfo>,
    /// Why the key is malformed, for MALFORMED.
    pub malformed_reason: Option<MalformedReason>,
    /// How long to wait before retrying, for RATE_LIMITED.
    pub retry_after: Option<TimeSpan>,
    /// The rate-limit state, for keys with a rate limit.
    pub rate_limit: Option<RateLimitState>,
}

#[uniffi::export]
impl VerifyResult {
    /// Whether the outcome is VALID.
    pub fn is_valid(&self) -> bool {
        self.outcome == Outcome::Valid
    }
}

/// What to create. Every field is optional; unset fields take the config's defaults.
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct CreateOptions {
    /// The owner, e.g. a user or team id.
    #[uniffi(default)]
    pub owner_id: Option<String>,
    /// A human-readable name.
    #[uniffi(default)]
    pub name: Option<String>,
    /// The prefix; the config's `default_prefix` when unset.
    #[uniffi(default)]
    pub prefix: Option<String>,
    /// Expire this long after creation. Exclusive with `expires_at`.
    #[uniffi(default)]
    pub expires_in: Option<TimeSpan>,
    /// Expire at this time. Exclusive with `expires_in`.
    #[uniffi(default)]
    pub expires_at: Option<Timestamp>,
    /// Granted permissions; the config's `default_permissions` when unset.
    #[uniffi(default)]
    pub permissions: Option<Vec<String>>,
    /// Caller-defined data, as JSON object text.
    #[uniffi(default)]
    pub metadata: Option<String>,
    /// Credits; unset means unlimited use. With a refill and no value, starts at the refill amount.
    #[uniffi(default)]
    pub remaining: Option<i64>,
    /// A credit refill schedule. Needs credits.
    #[uniffi(default)]
    pub refill: Option<Refill>,
    /// A rate limit.
    #[uniffi(default)]
    pub rate_limit: Option<RateLimit>,
}

/// What to change. Unset fields stay as they are. A `clear_*` flag clears
/// that field (it may not be combined with a value for the same field):
/// Kotlin and Swift cannot tell an argument left out from one set to null.
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct UpdateOptions {
    /// A new name.
    #[uniffi(default)]
    pub name: Option<String>,
    /// Enable or disable the key.
    #[uniffi(default)]
    pub enabled: Option<bool>,
    /// Replace the permissions.
    #[uniffi(default)]
    pub permissions: Option<Vec<String>>,
    /// Replace the metadata (JSON object text).
    #[uniffi(default)]
    pub metadata: Option<String>,
    /// A new expiry.
    #[uniffi(default)]
    pub expires_at: Option<Timestamp>,
    /// New credits.
    #[uniffi(default)]
    pub remaining: Option<i64>,
    /// A new refill schedule, restarting now.
    #[uniffi(default)]
    pub refill: Option<Refill>,
    /// A new rate limit, with fresh state.
    #[uniffi(default)]
    pub rate_limit: Option<RateLimit>,
    /// Remove the name.
    #[uniffi(default = false)]
    pub clear_name: bool,
    /// Remove the expiry: the key never expires.
    #[uniffi(default = false)]
    pub clear_expires_at: bool,
    /// Remove the credits: unlimited use.
    #[uniffi(default = false)]
    pub clear_remaining: bool,
    /// Remove the refill schedule.
    #[uniffi(default = false)]
    pub clear_refill: bool,
    /// Remove the rate limit.
    #[uniffi(default = false)]
    pub clear_rate_limit: bool,
}

/// Which keys to list.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ListOptions {
    /// Only this owner's keys.
    #[uniffi(default)]
    pub owner_id: Option<String>,
    /// At most this many keys per page (1–1000).
    #[uniffi(default = 100)]
    pub limit: i64,
    /// The `next_cursor` of the previous page.
    #[uniffi(default)]
    pub cursor: Option<String>,
    /// Include revoked keys.
    #[uniffi(default = false)]
    pub include_revoked: bool,
}

/// How a store creates, hashes and limits keys. Every field has a default.
#[derive(Clone, Debug, uniffi::Record)]
pub struct Config {
    /// The prefix for keys created without one.
    #[uniffi(default = "kh")]
    pub default_prefix: String,
    /// Random bytes per secret, 16–64.
    #[uniffi(default = 32)]
    pub secret_bytes: i64,
    /// The pepper new hashes are made with; none hashes with plain SHA-256.
    #[uniffi(default)]
    pub pepper: Option<Arc<Pepper>>,
    /// Earlier peppers, still accepted; keys hashed with one are re-hashed
    /// with `pepper` the first time they verify.
    #[uniffi(default)]
    pub previous_peppers: Vec<Arc<Pepper>>,
    /// Permissions for keys created without any.
    #[uniffi(default)]
    pub default_permissions: Vec<String>,
    /// Expiry for keys created without one; none means they never expire.
    #[uniffi(default)]
    pub default_expiry: Option<TimeSpan>,
    /// The shortest expiry a key may be created with.
    #[uniffi(default)]
    pub min_expiry: Option<TimeSpan>,
    /// The longest expiry a key may be created with; when set, every key expires.
    #[uniffi(default)]
    pub max_expiry: Option<TimeSpan>,
    /// The most active (unrevoked) keys one owner may hold.
    #[uniffi(default)]
    pub max_keys_per_owner: Option<i64>,
    /// How often usage counts are written for keys without credits or a
    /// rate limit; 60 s when unset.
    #[uniffi(default)]
    pub usage_flush_interval: Option<TimeSpan>,
    /// How long to wait for a lock held by another connection; 5 s when unset.
    #[uniffi(default)]
    pub busy_timeout: Option<TimeSpan>,
    /// Whether a verify re-hashes, with `pepper`, a key whose stored hash
    /// uses an older pepper (or none); true when unset.
    #[uniffi(default)]
    pub rehash_on_verify: Option<bool>,
    /// PostgreSQL: the most connections the store opens for requests; 8 when unset.
    #[uniffi(default)]
    pub pool_size: Option<i64>,
    /// PostgreSQL: how long to wait for a connection; 5 s when unset.
    #[uniffi(default)]
    pub connect_timeout: Option<TimeSpan>,
    /// PostgreSQL: the server cancels any statement that runs longer; 5 s when unset.
    #[uniffi(default)]
    pub statement_timeout: Option<TimeSpan>,
    /// PostgreSQL: the longest verify answers from cached rows without
    /// hearing from the server; 1 s when unset.
    #[uniffi(default)]
    pub max_staleness: Option<TimeSpan>,
    /// PostgreSQL: the schema that holds Keyhouse's tables; `keyhouse` when unset.
    #[uniffi(default)]
    pub schema: Option<String>,
    /// PostgreSQL: where the change listener connects, if not the store's URL.
    #[uniffi(default)]
    pub listen_url: Option<String>,
    /// Leased mode: a consuming verify that writes also reserves credits
    /// and rate-limit slots for up to this many verifies, admitted from
    /// memory (never beyond the limits). Unset: exact mode.
    #[uniffi(default)]
    pub lease_size: Option<i64>,
    /// Leased mode: how long an unused lease is kept before it goes back
    /// to the store; 1 s when unset.
    #[uniffi(default)]
    pub lease_idle: Option<TimeSpan>,
    /// How many keys the verify cache holds (0.75–1 KB each); 100,000
    /// when unset, and 0 turns it off.
    #[uniffi(default)]
    pub verify_cache_size: Option<i64>,
}

impl From<keyhouse::Refill> for Refill {
    fn from(r: keyhouse::Refill) -> Self {
        Refill { amount: r.amount, interval: r.interval.into() }
    }
}

impl From<keyhouse::RateLimit> for RateLimit {
    fn from(r: keyhouse::RateLimit) -> Self {
        RateLimit { limit: r.limit.into(), window: r.window.into() }
    }
}

impl From<keyhouse::RateLimitState> for RateLimitState {
    fn from(s: keyhouse::RateLimitState) -> Self {
        RateLimitState {
            limit: s.limit.into(),
            window: s.window.into(),
            remaining: s.remaining.into(),
            reset_at: s.reset_at,
        }
    }
}

impl From<keyhouse::KeyInfo> for KeyInfo {
    fn from(i: keyhouse::KeyInfo) -> Self {
        KeyInfo {
            metadata: metadata_text(i.metadata),
            id: i.id,
            prefix: i.prefix,
            owner_id: i.owner_id,
            name: i.name,
            permissions: i.permissions,
            enabled: i.enabled,
            created_at: i.created_at,
            updated_at: i.updated_at,
            expires_at: i.expires_at,
            revoked_at: i.revoked_at,
            last_used_at: i.last_used_at,
            usage_count: i64::try_from(i.usage_count).unwrap_or(i64::MAX),
            remaining: i.remaining,
            refill: i.refill.map(Into::into),
            last_refill_at: i.last_refill_at,
            rate_limit: i.rate_limit.map(Into::into),
        }
    }
}

impl From<keyhouse::ParsedKey> for ParsedKey {
    fn from(p: keyhouse::ParsedKey) -> Self {
        ParsedKey { prefix: p.prefix, id: p.id }
    }
}

impl From<keyhouse::KeyPage> for KeyPage {
    fn from(p: keyhouse::KeyPage) -> Self {
        KeyPage { keys: p.keys.into_iter().map(Into::into).collect(), next_cursor: p.next_cursor }
    }
}

impl From<keyhouse::VerifyResult> for VerifyResult {
    fn from(r: keyhouse::VerifyResult) -> Self {
        VerifyResult {
            outcome: r.outcome.into(),
            key: r.key.map(Into::into),
            malformed_reason: r.malformed_reason.map(Into::into),
            retry_after: r.retry_after.map(Into::into),
            rate_limit: r.rate_limit.map(Into::into),
        }
    }
}

#[cfg(test)]
mod mirror_tests {
    use super::*;

    #[test]
    fn every_core_case_has_its_own_mirror() {
        for o in keyhouse::Outcome::ALL {
            assert_eq!(Outcome::from(o).code(), o.as_str());
        }
        for r in keyhouse::MalformedReason::ALL {
            assert_eq!(MalformedReason::from(r).code(), r.code());
        }
    }
}
