//! What an app lets its users do to their own keys.

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::format::validate_prefix;
use crate::model::{RateLimit, Refill};
use crate::permissions::validate_grants;
use crate::store::checks::check_rate_limit;
use crate::util::clip;
use crate::Config;

/// The largest request body the routers read by default, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest grace period an owner may give a roll by default: one day.
pub const DEFAULT_MAX_GRACE: Duration = Duration::from_secs(24 * 3600);
/// The largest body an app may allow: metadata bigger than this belongs elsewhere.
const MAX_BODY_CAP: usize = 1024 * 1024;

/// The app's rules for owner-managed keys, set once when a router is
/// mounted. Everything an owner may not choose is refused with
/// INVALID_ARGUMENT, never silently changed.
///
/// Read from JSON with camelCase names (the bindings pass it that way), so
/// every binding spells the same rule the same way:
/// `{"permissions": ["read"], "maxExpiresIn": 31536000}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    /// The permissions an owner may grant to a key. `*` is never allowed:
    /// a user cannot mint a key that can do everything.
    pub permissions: Vec<String>,
    /// What a key gets when the request names no permissions; a subset of
    /// `permissions`. The store's own `default_permissions` (an admin
    /// setting) never applies to owner-created keys.
    pub default_permissions: Vec<String>,
    /// Prefixes an owner may pick; empty means the store's default only.
    pub prefixes: Vec<String>,
    /// The longest lifetime an owner may give a key, in seconds. When set, a
    /// key created without `expiresIn` gets exactly this lifetime.
    #[serde(deserialize_with = "opt_seconds")]
    pub max_expires_in: Option<Duration>,
    /// The longest grace period of a roll, in seconds.
    #[serde(deserialize_with = "seconds")]
    pub max_grace: Duration,
    /// Whether owners may delete keys (revoking is always allowed).
    pub allow_delete: bool,
    /// Whether owners may set credits, a refill and a rate limit themselves.
    /// Off by default: these are what an app sells, so they are admin-only.
    pub owner_limits: bool,
    /// A rate limit every owner-created key gets (unless the owner may set
    /// limits and does). It is per key: an owner with `n` keys has `n` times
    /// the rate, so pair it with the store's `max_keys_per_owner`.
    #[serde(deserialize_with = "opt_rate_limit")]
    pub rate_limit: Option<RateLimit>,
    /// The largest request body accepted, in bytes (at most 1 MiB).
    pub max_body_bytes: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            permissions: Vec::new(),
            default_permissions: Vec::new(),
            prefixes: Vec::new(),
            max_expires_in: None,
            max_grace: DEFAULT_MAX_GRACE,
            allow_delete: false,
            owner_limits: false,
            rate_limit: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl Policy {
    /// Reads a policy from its JSON form; unknown names are an error, so a
    /// misspelt rule cannot silently fall back to a default.
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|e| Error::invalid(format!("self-service policy: {e}")))
    }

    /// Checks that the rules are consistent with each other and with the
    /// store's own `config`, so that a bad rule fails when the router is
    /// made, never as a client's 400 on every request.
    pub fn validate(&self, config: &Config) -> Result<()> {
        validate_grants(&self.permissions)?;
        self.prefixes.iter().try_for_each(|p| validate_prefix(p))?;
        self.rate_limit.as_ref().map(check_rate_limit).transpose()?;
        if let Some(max) = self.max_expires_in {
            let too_long = config.max_expiry.is_some_and(|m| max > m);
            let too_short = config.min_expiry.is_some_and(|m| max < m);
            if too_long || too_short {
                return Err(Error::invalid(
                    "self-service policy: maxExpiresIn is outside the store's min_expiry..max_expiry",
                ));
            }
        }
        if self.permissions.iter().any(|p| p == "*") {
            return Err(Error::invalid("self-service policy: owners may never grant \"*\""));
        }
        if let Some(p) = self.default_permissions.iter().find(|p| !self.permissions.contains(p)) {
            return Err(Error::invalid(format!("self-service policy: default permission {p:?} is not in permissions")));
        }
        if self.max_expires_in == Some(Duration::ZERO) {
            return Err(Error::invalid("self-service policy: maxExpiresIn must be at least 1 second"));
        }
        if !(1..=MAX_BODY_CAP).contains(&self.max_body_bytes) {
            return Err(Error::invalid(format!("self-service policy: maxBodyBytes must be 1..={MAX_BODY_CAP}")));
        }
        Ok(())
    }

    /// Refuses each permission outside the allowlist, `*` above all.
    pub(crate) fn check_permissions(&self, asked: &[String]) -> Result<()> {
        // `*` never enters the allowlist (see `validate`), so exact
        // membership refuses it too.
        match asked.iter().find(|p| !self.permissions.contains(p)) {
            Some(p) => Err(Error::invalid(format!("permission {:?} may not be granted here", clip(p)))),
            None => Ok(()),
        }
    }

    /// The lifetime of a new key: what the owner asked, within the maximum.
    pub(crate) fn expires_in(&self, asked: Option<u64>) -> Result<Option<Duration>> {
        let asked = asked.map(Duration::from_secs);
        if asked == Some(Duration::ZERO) {
            return Err(Error::invalid("expiresIn must be at least 1 second"));
        }
        match (asked, self.max_expires_in) {
            (Some(a), Some(max)) if a > max => {
                Err(Error::invalid(format!("expiresIn may be at most {} seconds", max.as_secs())))
            }
            (None, max) => Ok(max),
            (a, _) => Ok(a),
        }
    }

    /// The grace period of a roll, within the maximum.
    pub(crate) fn grace(&self, asked: Option<u64>) -> Result<Duration> {
        let grace = Duration::from_secs(asked.unwrap_or(0));
        if grace > self.max_grace {
            return Err(Error::invalid(format!("grace may be at most {} seconds", self.max_grace.as_secs())));
        }
        Ok(grace)
    }

    /// Refuses a prefix the app does not offer.
    pub(crate) fn check_prefix(&self, prefix: &str) -> Result<()> {
        if self.prefixes.iter().any(|p| p == prefix) {
            Ok(())
        } else {
            Err(Error::invalid(format!("prefix {:?} may not be chosen here", clip(prefix))))
        }
    }
}

fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_secs)
}

fn opt_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Duration>, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
}

/// A refill or rate limit in its wire form: counts and seconds.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefillWire {
    pub amount: i64,
    pub interval: u64,
}

/// A rate limit in its wire form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitWire {
    pub limit: u32,
    pub window: u64,
}

impl From<RefillWire> for Refill {
    fn from(w: RefillWire) -> Self {
        Refill { amount: w.amount, interval: Duration::from_secs(w.interval) }
    }
}

impl From<RateLimitWire> for RateLimit {
    fn from(w: RateLimitWire) -> Self {
        RateLimit { limit: w.limit, window: Duration::from_secs(w.window) }
    }
}

fn opt_rate_limit<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<RateLimit>, D::Error> {
    Ok(Option::<RateLimitWire>::deserialize(d)?.map(RateLimit::from))
}
