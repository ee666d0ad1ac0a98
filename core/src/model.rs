//! The values the store takes and returns.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::MalformedReason;
use crate::Timestamp;

/// A JSON object of caller-defined data kept with a key.
pub type Metadata = Map<String, Value>;

/// The outcome of verifying a key. Every outcome is a value, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
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

impl Outcome {
    /// Every outcome, in the order verify checks them.
    pub const ALL: [Outcome; 9] = [
        Self::Valid,
        Self::Malformed,
        Self::NotFound,
        Self::Revoked,
        Self::Disabled,
        Self::Expired,
        Self::InsufficientPermissions,
        Self::RateLimited,
        Self::UsageExceeded,
    ];

    /// The stable code, e.g. `RATE_LIMITED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::Malformed => "MALFORMED",
            Self::NotFound => "NOT_FOUND",
            Self::Revoked => "REVOKED",
            Self::Disabled => "DISABLED",
            Self::Expired => "EXPIRED",
            Self::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            Self::RateLimited => "RATE_LIMITED",
            Self::UsageExceeded => "USAGE_EXCEEDED",
        }
    }

    /// The outcome with this stable code, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == code)
    }

    /// The HTTP status an API answers a request with this outcome: 200 for
    /// VALID; 401 when the credential is no good (malformed, unknown,
    /// revoked, disabled, expired), so the client should authenticate
    /// again; 403 for missing permissions (the key is good, the request is
    /// not allowed); 429 for a rate limit or spent credits (see
    /// `VerifyResult::retry_after` for the `Retry-After` header). Every
    /// binding and framework integration answers with these.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::Valid => 200,
            Self::Malformed | Self::NotFound | Self::Revoked | Self::Disabled | Self::Expired => 401,
            Self::InsufficientPermissions => 403,
            Self::RateLimited | Self::UsageExceeded => 429,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Credits restored on a schedule: every `interval`, `remaining` is reset to `amount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refill {
    /// The value `remaining` is reset to.
    pub amount: i64,
    /// How often the reset happens, counted from the key's creation (or the
    /// refill's last change).
    pub interval: Duration,
}

/// A rate limit: GCRA, a token bucket that holds `limit` requests and
/// refills at `limit` per `window`.
///
/// What it guarantees: a burst of at most `limit` requests at once, then one
/// every `window / limit`. Over any span of length `window`, at most
/// `2 × limit − 1` are admitted (a full burst, then the refill during the
/// span); over a long run, `limit` per `window` on average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window length.
    pub window: Duration,
}

/// A key's rate-limit state after a verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitState {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window length.
    pub window: Duration,
    /// Requests that would be allowed right now, after this one.
    pub remaining: u32,
    /// When the full `limit` is available again.
    pub reset_at: Timestamp,
}

/// Everything the store knows about a key, except its secret.
#[derive(Clone, Debug, PartialEq)]
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
    /// Caller-defined data.
    pub metadata: Metadata,
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
    /// The last successful verification, kept in batches (see the README).
    pub last_used_at: Option<Timestamp>,
    /// Successful verifications so far, kept in batches.
    pub usage_count: u64,
    /// Credits left, or `None` for unlimited use.
    pub remaining: Option<i64>,
    /// The credit refill schedule, if any.
    pub refill: Option<Refill>,
    /// When credits were last refilled.
    pub last_refill_at: Option<Timestamp>,
    /// The rate limit, if any.
    pub rate_limit: Option<RateLimit>,
}

/// A key just created: the plaintext, shown once, and its info.
///
/// `Debug` never shows the plaintext.
#[derive(Clone, PartialEq)]
pub struct CreatedKey {
    /// The plaintext key. It is not stored and cannot be shown again.
    pub key: String,
    /// The stored info.
    pub info: KeyInfo,
}

impl fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedKey").field("key", &"<redacted>").field("info", &self.info).finish()
    }
}

/// What to create. Every field is optional; unset fields take the config's defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateOptions {
    /// The owner, e.g. a user or team id.
    pub owner_id: Option<String>,
    /// A human-readable name.
    pub name: Option<String>,
    /// The prefix; the config's `default_prefix` when unset.
    pub prefix: Option<String>,
    /// Expire this long after creation. Exclusive with `expires_at`.
    pub expires_in: Option<Duration>,
    /// Expire at this time. Exclusive with `expires_in`.
    pub expires_at: Option<Timestamp>,
    /// Granted permissions; the config's `default_permissions` when unset.
    pub permissions: Option<Vec<String>>,
    /// Caller-defined data: at most 16 KiB as JSON, with objects and arrays
    /// nested fewer than 128 deep.
    pub metadata: Option<Metadata>,
    /// Credits; unset means unlimited use. With a refill and no value, starts at the refill amount.
    pub remaining: Option<i64>,
    /// A credit refill schedule. Needs credits.
    pub refill: Option<Refill>,
    /// A rate limit.
    pub rate_limit: Option<RateLimit>,
}

/// What to change. `None` leaves a field as it is; for clearable fields,
/// `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateOptions {
    /// A new name, or `Some(None)` to clear it.
    pub name: Option<Option<String>>,
    /// Enable or disable the key.
    pub enabled: Option<bool>,
    /// Replace the permissions.
    pub permissions: Option<Vec<String>>,
    /// Replace the metadata.
    pub metadata: Option<Metadata>,
    /// A new expiry, or `Some(None)` for none.
    pub expires_at: Option<Option<Timestamp>>,
    /// New credits, or `Some(None)` for unlimited use.
    pub remaining: Option<Option<i64>>,
    /// A new refill schedule (restarting now), or `Some(None)` to remove it.
    pub refill: Option<Option<Refill>>,
    /// A new rate limit (with fresh state), or `Some(None)` to remove it.
    pub rate_limit: Option<Option<RateLimit>>,
}

/// Which keys to list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListOptions {
    /// Only this owner's keys.
    pub owner_id: Option<String>,
    /// At most this many keys per page (1–1000).
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Include revoked keys.
    pub include_revoked: bool,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions { owner_id: None, limit: 100, cursor: None, include_revoked: false }
    }
}

/// One page of keys, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyPage {
    /// The keys on this page.
    pub keys: Vec<KeyInfo>,
    /// Pass this as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The result of verifying a key.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyResult {
    /// What happened.
    pub outcome: Outcome,
    /// The key's info, once its secret has matched (any outcome but
    /// MALFORMED and NOT_FOUND). For VALID it reflects this verification.
    pub key: Option<KeyInfo>,
    /// Why the key is malformed, for MALFORMED.
    pub malformed_reason: Option<MalformedReason>,
    /// How long to wait before retrying: for RATE_LIMITED, exactly; for
    /// USAGE_EXCEEDED, until the next refill, when the key has one (without
    /// a refill, waiting does not help: `None`).
    pub retry_after: Option<Duration>,
    /// The rate-limit state, for keys with a rate limit.
    pub rate_limit: Option<RateLimitState>,
}

impl VerifyResult {
    /// Whether the outcome is VALID.
    pub fn is_valid(&self) -> bool {
        self.outcome == Outcome::Valid
    }

    pub(crate) fn bare(outcome: Outcome) -> Self {
        VerifyResult { outcome, key: None, malformed_reason: None, retry_after: None, rate_limit: None }
    }
}
