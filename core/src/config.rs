//! Store configuration.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::{validate_prefix, validate_secret_bytes, DEFAULT_PREFIX, DEFAULT_SECRET_BYTES};
use crate::hashing::Pepper;
use crate::permissions::validate_grants;

/// How a [`crate::Keyhouse`] store creates, hashes and limits keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The prefix for keys created without one. Default `kh`.
    pub default_prefix: String,
    /// Random bytes per secret, 16–64. Default 32.
    pub secret_bytes: usize,
    /// The pepper new hashes are made with; `None` hashes with plain SHA-256.
    pub pepper: Option<Pepper>,
    /// Earlier peppers, still accepted. A key whose hash uses one of them (or
    /// no pepper, while `pepper` is set) is re-hashed with `pepper` the first
    /// time it verifies.
    pub previous_peppers: Vec<Pepper>,
    /// Permissions for keys created without any.
    pub default_permissions: Vec<String>,
    /// Expiry for keys created without one; `None` means they never expire.
    pub default_expiry: Option<Duration>,
    /// The shortest expiry a key may be created with.
    pub min_expiry: Option<Duration>,
    /// The longest expiry a key may be created with. When set, every key
    /// must expire, so keys without an expiry take this one unless
    /// `default_expiry` is set.
    pub max_expiry: Option<Duration>,
    /// The most active (unrevoked) keys one owner may hold.
    pub max_keys_per_owner: Option<u32>,
    /// How often `last_used_at` and `usage_count` are written for keys
    /// without credits or a rate limit. Default 60 s. Pending counts are
    /// also written by `flush` and `close`.
    pub usage_flush_interval: Duration,
    /// How long to wait for a database lock held by another connection. Default 5 s.
    pub busy_timeout: Duration,
    /// Whether a verify re-hashes a key whose stored hash uses an older
    /// pepper (or none) with `pepper`. Default true for services; the CLI
    /// turns it off, so that checking a key by hand never changes the
    /// store (a service that lacks the CLI's pepper would then reject it).
    pub rehash_on_verify: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_prefix: DEFAULT_PREFIX.to_owned(),
            secret_bytes: DEFAULT_SECRET_BYTES,
            pepper: None,
            previous_peppers: Vec::new(),
            default_permissions: Vec::new(),
            default_expiry: None,
            min_expiry: None,
            max_expiry: None,
            max_keys_per_owner: None,
            usage_flush_interval: Duration::from_secs(60),
            busy_timeout: Duration::from_secs(5),
            rehash_on_verify: true,
        }
    }
}

impl Config {
    /// Checks that the settings are in range and agree with each other.
    pub fn validate(&self) -> Result<()> {
        validate_prefix(&self.default_prefix)?;
        validate_secret_bytes(self.secret_bytes)?;
        validate_grants(&self.default_permissions)?;
        if let (Some(min), Some(max)) = (self.min_expiry, self.max_expiry) {
            if min > max {
                return Err(Error::invalid("min_expiry is longer than max_expiry"));
            }
        }
        if let Some(d) = self.default_expiry {
            if self.min_expiry.is_some_and(|min| d < min) || self.max_expiry.is_some_and(|max| d > max) {
                return Err(Error::invalid("default_expiry is outside min_expiry..max_expiry"));
            }
        }
        if self.max_keys_per_owner == Some(0) {
            return Err(Error::invalid("max_keys_per_owner must be at least 1"));
        }
        let mut ids: Vec<&str> = self.peppers().map(Pepper::id).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::invalid("two peppers share an id"));
        }
        Ok(())
    }

    /// The current pepper followed by the previous ones.
    pub(crate) fn peppers(&self) -> impl Iterator<Item = &Pepper> {
        self.pepper.iter().chain(&self.previous_peppers)
    }
}
