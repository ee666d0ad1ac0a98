//! Store configuration.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::{validate_prefix, validate_secret_bytes, DEFAULT_PREFIX, DEFAULT_SECRET_BYTES};
use crate::hashing::Pepper;
use crate::permissions::validate_grants;

/// How a [`crate::Keyhouse`] store creates, hashes and limits keys.
#[derive(Clone, PartialEq)]
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
    /// without credits or a rate limit, by a thread of the store's own, so
    /// that no verify waits for the write. Default 60 s; 0 writes each use
    /// in the verify. Pending counts are also written by `flush` and `close`.
    pub usage_flush_interval: Duration,
    /// How long to wait for a database lock held by another connection.
    /// Default 5 s; at most 1 hour.
    pub busy_timeout: Duration,
    /// Whether a verify re-hashes a key whose stored hash uses an older
    /// pepper (or none) with `pepper`. Default true for services; the CLI
    /// turns it off, so that checking a key by hand never changes the
    /// store (a service that lacks the CLI's pepper would then reject it).
    pub rehash_on_verify: bool,
    /// How many keys the verify cache holds, each as read from the store
    /// (with its index, about 770 bytes for a key with no name, owner or
    /// metadata, and about 1 KB for one with an owner, a name, two
    /// permissions and two metadata entries; more for longer names, more
    /// permissions or more metadata). Verifies of cached keys read nothing.
    /// Default 100,000; 0 turns the cache off, so that every verify reads
    /// the store. As many keys at most count their uses in a cell of their
    /// own (48 bytes, kept until the next usage flush) rather than under
    /// the usage map's lock.
    pub verify_cache_size: u32,
    /// PostgreSQL: the most connections a store opens for requests (the
    /// listener has one more). Default 8.
    pub pool_size: u32,
    /// PostgreSQL: how long to wait for a connection (a new one, or a free
    /// one from the pool) before failing with STORE_ERROR or STORE_BUSY. Default 5 s.
    pub connect_timeout: Duration,
    /// PostgreSQL: the server cancels any statement that runs longer.
    /// Default 5 s.
    pub statement_timeout: Duration,
    /// PostgreSQL: the longest a verify answers from rows it has cached
    /// without having heard from the server. Another process's revoke,
    /// update or delete is seen within this bound even when notifications
    /// are lost; past it, with the server unreachable, verify fails with
    /// STORE_ERROR. Default 1 s.
    pub max_staleness: Duration,
    /// PostgreSQL: the schema that holds Keyhouse's tables. Default `keyhouse`.
    pub schema: String,
    /// PostgreSQL: where the change listener connects, when that must differ
    /// from the store's URL (LISTEN needs a direct or session-pooled
    /// connection: PgBouncer in transaction mode drops it).
    pub listen_url: Option<String>,
    /// Leased mode for keys with credits or a rate limit; `None` (the
    /// default) is exact mode, where every consuming verify is one write.
    /// With `Some(n)`, a verify that must write also reserves, in that same
    /// write, enough credits and rate-limit slots for up to `n` verifies in
    /// all; this store then admits those from memory. Never admits more than
    /// the limits allow; other processes may be refused early, by at most
    /// what the leases hold. See the README's "Leased limits". 1–100,000.
    pub lease_size: Option<u32>,
    /// Leased mode: a lease unused this long goes back to the store, as
    /// unused leases do on `flush` and `close`. Default 1 s.
    pub lease_idle: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("default_prefix", &self.default_prefix)
            .field("secret_bytes", &self.secret_bytes)
            .field("pepper", &self.pepper)
            .field("previous_peppers", &self.previous_peppers)
            .field("default_permissions", &self.default_permissions)
            .field("default_expiry", &self.default_expiry)
            .field("min_expiry", &self.min_expiry)
            .field("max_expiry", &self.max_expiry)
            .field("max_keys_per_owner", &self.max_keys_per_owner)
            .field("usage_flush_interval", &self.usage_flush_interval)
            .field("busy_timeout", &self.busy_timeout)
            .field("rehash_on_verify", &self.rehash_on_verify)
            .field("verify_cache_size", &self.verify_cache_size)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("max_staleness", &self.max_staleness)
            .field("schema", &self.schema)
            // A URL may hold a password.
            .field("listen_url", &self.listen_url.as_deref().map(crate::util::redact_url))
            .field("lease_size", &self.lease_size)
            .field("lease_idle", &self.lease_idle)
            .finish()
    }
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
            verify_cache_size: DEFAULT_VERIFY_CACHE_SIZE,
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            max_staleness: Duration::from_secs(1),
            schema: "keyhouse".to_owned(),
            listen_url: None,
            lease_size: None,
            lease_idle: Duration::from_secs(1),
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
        if self.verify_cache_size > MAX_VERIFY_CACHE_SIZE {
            return Err(Error::invalid(format!("verify_cache_size must be 0-{MAX_VERIFY_CACHE_SIZE}")));
        }
        if !(1..=MAX_POOL_SIZE).contains(&self.pool_size) {
            return Err(Error::invalid(format!("pool_size must be 1-{MAX_POOL_SIZE}, got {}", self.pool_size)));
        }
        for (name, d) in [("connect_timeout", self.connect_timeout), ("statement_timeout", self.statement_timeout)] {
            if d < Duration::from_millis(1) || d > MAX_TIMEOUT {
                return Err(Error::invalid(format!("{name} must be 1 ms to 1 hour")));
            }
        }
        // Also what SQLite's busy timeout takes, in i32 milliseconds: rusqlite
        // panics on more, so nothing past the bound may reach it.
        if self.busy_timeout > MAX_TIMEOUT {
            return Err(Error::invalid("busy_timeout must be at most 1 hour"));
        }
        if self.max_staleness < MIN_STALENESS || self.max_staleness > MAX_TIMEOUT {
            return Err(Error::invalid("max_staleness must be 20 ms to 1 hour"));
        }
        validate_schema(&self.schema)?;
        if self.lease_size.is_some_and(|n| !(1..=MAX_LEASE_SIZE).contains(&n)) {
            return Err(Error::invalid(format!("lease_size must be 1-{MAX_LEASE_SIZE}")));
        }
        if self.lease_idle < MIN_LEASE_IDLE || self.lease_idle > MAX_TIMEOUT {
            return Err(Error::invalid("lease_idle must be 10 ms to 1 hour"));
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

/// The most connections one store's pool may hold.
const MAX_POOL_SIZE: u32 = 1000;
/// Keys a verify cache holds unless told otherwise: 75–100 MB for keys
/// like those of `Config::verify_cache_size`'s doc, more for bigger ones.
const DEFAULT_VERIFY_CACHE_SIZE: u32 = 100_000;
/// The largest verify cache allowed: 7.5–10 GB for such keys.
const MAX_VERIFY_CACHE_SIZE: u32 = 10_000_000;
/// The longest timeout or staleness bound accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The most verifies one lease may cover.
const MAX_LEASE_SIZE: u32 = 100_000;
/// The shortest idle time before a lease is returned: the returning thread
/// wakes twice per idle time.
const MIN_LEASE_IDLE: Duration = Duration::from_millis(10);
/// The shortest staleness bound: the listener polls four times per bound.
const MIN_STALENESS: Duration = Duration::from_millis(20);

/// A PostgreSQL schema name Keyhouse will use: it is put into SQL as an
/// identifier, so only plain lower-case names are accepted.
fn validate_schema(schema: &str) -> Result<()> {
    let ok = (1..=40).contains(&schema.len())
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("schema must be 1-40 characters of a-z, 0-9 and _, not starting with a digit or pg_"))
    }
}
