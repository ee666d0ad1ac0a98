//! The `Keyhouse` object: the store.

use std::sync::Arc;

use crate::convert::{int, metadata, opt_duration, rate_limit, refill};
use crate::errors::{invalid, Result};
use crate::keys::{core_peppers, CreatedKey};
use crate::types::{Config, CreateOptions, KeyInfo, KeyPage, ListOptions, TimeSpan, UpdateOptions, VerifyResult};

/// An API-key store on SQLite or PostgreSQL. One object may be shared by many threads.
#[derive(uniffi::Object)]
pub struct Keyhouse {
    inner: keyhouse::Keyhouse,
}

impl Keyhouse {
    /// Wraps a core store for the bindings.
    pub fn wrap(inner: keyhouse::Keyhouse) -> Arc<Self> {
        Arc::new(Keyhouse { inner })
    }
}

#[uniffi::export]
impl Keyhouse {
    /// Opens (creating if needed) the store at `path`, or an in-memory one for `":memory:"`.
    #[uniffi::constructor(default(config = None))]
    pub fn open(path: String, config: Option<Config>) -> Result<Arc<Self>> {
        Ok(Self::wrap(keyhouse::Keyhouse::open(path, core_config(config)?)?))
    }

    /// Creates a key. The returned plaintext is shown once: only its hash is stored.
    #[uniffi::method(default(options))]
    pub fn create(&self, options: CreateOptions) -> Result<Arc<CreatedKey>> {
        Ok(CreatedKey::wrap(self.inner.create(create_options(options)?)?))
    }

    /// Creates many keys in one transaction: all of them, or none.
    pub fn create_many(&self, options: Vec<CreateOptions>) -> Result<Vec<Arc<CreatedKey>>> {
        let options = options.into_iter().map(create_options).collect::<Result<_>>()?;
        Ok(self.inner.create_many(options)?.into_iter().map(CreatedKey::wrap).collect())
    }

    /// Verifies a key, requiring every permission in `permissions`, and pays
    /// `cost` credits if the key has credits. A bad key is an outcome, not an error.
    #[uniffi::method(default(permissions = [], cost = 1))]
    pub fn verify(&self, key: String, permissions: Vec<String>, cost: i64) -> Result<VerifyResult> {
        let cost = int("cost", cost)?;
        let required: Vec<&str> = permissions.iter().map(String::as_str).collect();
        Ok(self.inner.verify(&key, &required, cost)?.into())
    }

    /// The key with this id.
    pub fn get(&self, id: String) -> Result<KeyInfo> {
        Ok(self.inner.get(&id)?.into())
    }

    /// One page of keys, oldest first; pass `next_cursor` as `cursor` for the next.
    #[uniffi::method(default(options))]
    pub fn list(&self, options: ListOptions) -> Result<KeyPage> {
        let options = keyhouse::ListOptions {
            owner_id: options.owner_id,
            limit: int("limit", options.limit)?,
            cursor: options.cursor,
            include_revoked: options.include_revoked,
        };
        Ok(self.inner.list(&options)?.into())
    }

    /// Changes a key's settings. Unset fields stay as they are; `clear_*` flags clear.
    pub fn update(&self, id: String, options: UpdateOptions) -> Result<KeyInfo> {
        Ok(self.inner.update(&id, update_options(options)?)?.into())
    }

    /// Revokes a key (soft): it stays, and verifies as REVOKED.
    pub fn revoke(&self, id: String) -> Result<KeyInfo> {
        Ok(self.inner.revoke(&id)?.into())
    }

    /// Deletes a key for good.
    pub fn delete(&self, id: String) -> Result<()> {
        Ok(self.inner.delete(&id)?)
    }

    /// Issues a new key with the same settings; the old one works for
    /// `grace` (none: at once) and then expires.
    #[uniffi::method(default(grace = None))]
    pub fn roll(&self, id: String, grace: Option<TimeSpan>) -> Result<Arc<CreatedKey>> {
        let grace = opt_duration("grace", grace)?.unwrap_or_default();
        Ok(CreatedKey::wrap(self.inner.roll(&id, grace)?))
    }

    /// Deletes every expired key; returns how many.
    pub fn purge_expired(&self) -> Result<i64> {
        Ok(i64::try_from(self.inner.purge_expired()?).unwrap_or(i64::MAX))
    }

    /// Writes pending usage counts now.
    pub fn flush(&self) -> Result<()> {
        Ok(self.inner.flush()?)
    }

    /// Flushes usage counts and closes the database; later calls throw CLOSED.
    /// (Kotlin names it `closeStore`: its `close()` frees the object.)
    pub fn close(&self) -> Result<()> {
        Ok(self.inner.close()?)
    }
}

/// The core configuration; `None` is the default one.
pub fn core_config(config: Option<Config>) -> Result<keyhouse::Config> {
    let mut c = keyhouse::Config::default();
    let Some(config) = config else { return Ok(c) };
    c.default_prefix = config.default_prefix;
    c.secret_bytes = int("secret_bytes", config.secret_bytes)?;
    c.pepper = config.pepper.map(|p| p.inner.clone());
    c.previous_peppers = core_peppers(&config.previous_peppers);
    c.default_permissions = config.default_permissions;
    c.default_expiry = opt_duration("default_expiry", config.default_expiry)?;
    c.min_expiry = opt_duration("min_expiry", config.min_expiry)?;
    c.max_expiry = opt_duration("max_expiry", config.max_expiry)?;
    c.max_keys_per_owner = config.max_keys_per_owner.map(|n| int("max_keys_per_owner", n)).transpose()?;
    if let Some(d) = opt_duration("usage_flush_interval", config.usage_flush_interval)? {
        c.usage_flush_interval = d;
    }
    if let Some(d) = opt_duration("busy_timeout", config.busy_timeout)? {
        c.busy_timeout = d;
    }
    if let Some(rehash) = config.rehash_on_verify {
        c.rehash_on_verify = rehash;
    }
    if let Some(n) = config.verify_cache_size {
        c.verify_cache_size = int("verify_cache_size", n)?;
    }
    if let Some(n) = config.pool_size {
        c.pool_size = int("pool_size", n)?;
    }
    for (name, value, field) in [
        ("connect_timeout", config.connect_timeout, &mut c.connect_timeout),
        ("statement_timeout", config.statement_timeout, &mut c.statement_timeout),
        ("max_staleness", config.max_staleness, &mut c.max_staleness),
        ("lease_idle", config.lease_idle, &mut c.lease_idle),
    ] {
        if let Some(d) = opt_duration(name, value)? {
            *field = d;
        }
    }
    if let Some(schema) = config.schema {
        c.schema = schema;
    }
    c.listen_url = config.listen_url;
    c.lease_size = config.lease_size.map(|n| int("lease_size", n)).transpose()?;
    Ok(c)
}

fn create_options(o: CreateOptions) -> Result<keyhouse::CreateOptions> {
    Ok(keyhouse::CreateOptions {
        expires_in: opt_duration("expires_in", o.expires_in)?,
        metadata: o.metadata.as_deref().map(metadata).transpose()?,
        refill: o.refill.map(refill).transpose()?,
        rate_limit: o.rate_limit.map(rate_limit).transpose()?,
        owner_id: o.owner_id,
        name: o.name,
        prefix: o.prefix,
        expires_at: o.expires_at,
        permissions: o.permissions,
        remaining: o.remaining,
    })
}

/// A change to a clearable field: a value, a clear, or neither.
fn change<T>(field: &str, value: Option<T>, clear: bool) -> Result<Option<Option<T>>> {
    match (value, clear) {
        (Some(_), true) => Err(invalid(format!("give {field} or clear_{field}, not both"))),
        (Some(v), false) => Ok(Some(Some(v))),
        (None, true) => Ok(Some(None)),
        (None, false) => Ok(None),
    }
}

fn update_options(o: UpdateOptions) -> Result<keyhouse::UpdateOptions> {
    Ok(keyhouse::UpdateOptions {
        name: change("name", o.name, o.clear_name)?,
        enabled: o.enabled,
        permissions: o.permissions,
        metadata: o.metadata.as_deref().map(metadata).transpose()?,
        expires_at: change("expires_at", o.expires_at, o.clear_expires_at)?,
        remaining: change("remaining", o.remaining, o.clear_remaining)?,
        refill: change("refill", o.refill.map(refill).transpose()?, o.clear_refill)?,
        rate_limit: change("rate_limit", o.rate_limit.map(rate_limit).transpose()?, o.clear_rate_limit)?,
    })
}
