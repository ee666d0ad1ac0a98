//! The `Keyhouse` class: every store method as a Promise (run on the libuv
//! thread pool) and as a `…Sync` call.

use std::sync::Arc;
use std::time::Duration;

use keyhouse::{Config, CreateOptions, ListOptions, UpdateOptions};
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

use crate::convert::{
    boolean, date, elements, integer, is_nullish, metadata, object, options, present, seconds, string, strings,
    unhandled,
};
use crate::errors::{js_error, type_error, IntoJsResult};
use crate::stateless::{key_text, opt_pepper, peppers};
use crate::types::{CreatedKey, KeyInfo, KeyPage, VerifyResult};

/// Declares the task behind one async method: its inputs, the core call,
/// and the conversion of the result.
macro_rules! store_task {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* } -> $js:ty = |$kh:ident, $($arg:ident),*| $call:expr) => {
        $(#[$doc])*
        pub struct $name {
            kh: Arc<keyhouse::Keyhouse>,
            $($field: Option<$ty>),*
        }

        impl Task for $name {
            type Output = keyhouse::Result<$js>;
            type JsValue = $js;

            fn compute(&mut self) -> Result<Self::Output> {
                let $kh = &self.kh;
                $(let $arg = self.$field.take().expect("a task runs once");)*
                Ok($call)
            }

            fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
                output.map_err(|e| js_error(&env, e))
            }
        }
    };
}

store_task!(
    /// `create`, off the main thread.
    CreateTask { options: Vec<CreateOptions> } -> CreatedKey =
    |kh, options| kh.create_many(options).map(|mut v| v.pop().expect("one in, one out").into())
);
store_task!(
    /// `createMany`, off the main thread.
    CreateManyTask { options: Vec<CreateOptions> } -> Vec<CreatedKey> =
    |kh, options| kh.create_many(options).map(|v| v.into_iter().map(CreatedKey::from).collect())
);
store_task!(
    /// `verify`, off the main thread.
    VerifyTask { key: String, permissions: Vec<String>, cost: u32 } -> VerifyResult =
    |kh, key, permissions, cost| {
        let required: Vec<&str> = permissions.iter().map(String::as_str).collect();
        kh.verify(&key, &required, cost).map(VerifyResult::from)
    }
);
store_task!(
    /// `get`, off the main thread.
    GetTask { id: String } -> KeyInfo = |kh, id| kh.get(&id).map(KeyInfo::from)
);
store_task!(
    /// `list`, off the main thread.
    ListTask { options: ListOptions } -> KeyPage = |kh, options| kh.list(&options).map(KeyPage::from)
);
store_task!(
    /// `update`, off the main thread.
    UpdateTask { id: String, changes: UpdateOptions } -> KeyInfo =
    |kh, id, changes| kh.update(&id, changes).map(KeyInfo::from)
);
store_task!(
    /// `revoke`, off the main thread.
    RevokeTask { id: String } -> KeyInfo = |kh, id| kh.revoke(&id).map(KeyInfo::from)
);
store_task!(
    /// `delete`, off the main thread.
    DeleteTask { id: String } -> () = |kh, id| kh.delete(&id)
);
store_task!(
    /// `roll`, off the main thread.
    RollTask { id: String, grace: Duration } -> CreatedKey = |kh, id, grace| kh.roll(&id, grace).map(CreatedKey::from)
);
store_task!(
    /// `purgeExpired`, off the main thread.
    PurgeTask { unit: () } -> i64 = |kh, unit| { let () = unit; kh.purge_expired().map(|n| n as i64) }
);
store_task!(
    /// `flush`, off the main thread.
    FlushTask { unit: () } -> () = |kh, unit| { let () = unit; kh.flush() }
);
store_task!(
    /// `close`, off the main thread.
    CloseTask { unit: () } -> () = |kh, unit| { let () = unit; kh.close() }
);

/// An API-key store on SQLite or PostgreSQL. One instance may be shared by all callbacks;
/// async methods run on the libuv thread pool, `…Sync` methods on the
/// calling thread.
#[napi]
pub struct Keyhouse {
    inner: Arc<keyhouse::Keyhouse>,
}

impl Keyhouse {
    pub fn wrap(inner: keyhouse::Keyhouse) -> Self {
        Keyhouse { inner: Arc::new(inner) }
    }

    /// The store, for another class that works on it.
    pub fn shared(&self) -> Arc<keyhouse::Keyhouse> {
        Arc::clone(&self.inner)
    }
}

#[napi]
impl Keyhouse {
    /// Opens (creating if needed) the store in the SQLite file at `path`, or
    /// an in-memory store for `":memory:"`.
    #[napi(factory, ts_args_type = "path: string, config?: KeyhouseConfig")]
    pub fn open(env: Env, path: Unknown, config: Option<Unknown>) -> Result<Keyhouse> {
        let path = string(&env, "path", path)?;
        let config = config_from_js(&env, config)?;
        Ok(Keyhouse::wrap(keyhouse::Keyhouse::open(path, config).js(&env)?))
    }

    /// Creates a key. The plaintext (`created.key`) is shown once: only its hash is stored.
    #[napi(ts_args_type = "options?: CreateOptions", ts_return_type = "Promise<CreatedKey>")]
    pub fn create(&self, env: Env, options: Option<Unknown>) -> Result<AsyncTask<CreateTask>> {
        let options = Some(vec![create_options(&env, "options", options)?]);
        Ok(AsyncTask::new(CreateTask { kh: self.inner.clone(), options }))
    }

    /// `create`, on the calling thread.
    #[napi(ts_args_type = "options?: CreateOptions")]
    pub fn create_sync(&self, env: Env, options: Option<Unknown>) -> Result<CreatedKey> {
        let options = create_options(&env, "options", options)?;
        Ok(self.inner.create(options).js(&env)?.into())
    }

    /// Creates many keys in one transaction: all of them, or none.
    #[napi(ts_args_type = "options: CreateOptions[]", ts_return_type = "Promise<CreatedKey[]>")]
    pub fn create_many(&self, env: Env, options: Unknown) -> Result<AsyncTask<CreateManyTask>> {
        let options = Some(create_options_list(&env, options)?);
        Ok(AsyncTask::new(CreateManyTask { kh: self.inner.clone(), options }))
    }

    /// `createMany`, on the calling thread.
    #[napi(ts_args_type = "options: CreateOptions[]")]
    pub fn create_many_sync(&self, env: Env, options: Unknown) -> Result<Vec<CreatedKey>> {
        let options = create_options_list(&env, options)?;
        Ok(self.inner.create_many(options).js(&env)?.into_iter().map(CreatedKey::from).collect())
    }

    /// Verifies a key, requiring every permission in `permissions`, and pays
    /// `cost` credits (default 1) if the key has credits. A bad key is an
    /// outcome, not an exception.
    #[napi(
        ts_args_type = "key: string, permissions?: string[], cost?: number",
        ts_return_type = "Promise<VerifyResult>"
    )]
    pub fn verify(
        &self,
        env: Env,
        key: Unknown,
        permissions: Option<Unknown>,
        cost: Option<Unknown>,
    ) -> Result<AsyncTask<VerifyTask>> {
        let (key, permissions, cost) = verify_args(&env, key, permissions, cost)?;
        Ok(AsyncTask::new(VerifyTask {
            kh: self.inner.clone(),
            key: Some(key),
            permissions: Some(permissions),
            cost: Some(cost),
        }))
    }

    /// `verify`, on the calling thread: the fastest path, a few microseconds
    /// for a cached key. On PostgreSQL a cache miss or a spend waits for a
    /// round trip to the server on this thread (blocking the event loop for
    /// that long, up to `connectTimeout`/`statementTimeout` if the server is
    /// slow); in a server, prefer the async `verify`, which waits on the
    /// libuv thread pool.
    #[napi(ts_args_type = "key: string, permissions?: string[], cost?: number")]
    pub fn verify_sync(
        &self,
        env: Env,
        key: Unknown,
        permissions: Option<Unknown>,
        cost: Option<Unknown>,
    ) -> Result<VerifyResult> {
        let (key, permissions, cost) = verify_args(&env, key, permissions, cost)?;
        let required: Vec<&str> = permissions.iter().map(String::as_str).collect();
        Ok(self.inner.verify(&key, &required, cost).js(&env)?.into())
    }

    /// The key with this id.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<KeyInfo>")]
    pub fn get(&self, env: Env, id: Unknown) -> Result<AsyncTask<GetTask>> {
        Ok(AsyncTask::new(GetTask { kh: self.inner.clone(), id: Some(string(&env, "id", id)?) }))
    }

    /// `get`, on the calling thread.
    #[napi(ts_args_type = "id: string")]
    pub fn get_sync(&self, env: Env, id: Unknown) -> Result<KeyInfo> {
        Ok(self.inner.get(&string(&env, "id", id)?).js(&env)?.into())
    }

    /// One page of keys, oldest first; pass `nextCursor` as `cursor` for the next.
    #[napi(ts_args_type = "options?: ListOptions", ts_return_type = "Promise<KeyPage>")]
    pub fn list(&self, env: Env, options: Option<Unknown>) -> Result<AsyncTask<ListTask>> {
        Ok(AsyncTask::new(ListTask { kh: self.inner.clone(), options: Some(list_options(&env, options)?) }))
    }

    /// `list`, on the calling thread.
    #[napi(ts_args_type = "options?: ListOptions")]
    pub fn list_sync(&self, env: Env, options: Option<Unknown>) -> Result<KeyPage> {
        Ok(self.inner.list(&list_options(&env, options)?).js(&env)?.into())
    }

    /// Changes a key's settings. Give only what changes; `null` clears
    /// `name`, `expiresAt`, `remaining`, `refill` and `rateLimit`.
    #[napi(ts_args_type = "id: string, changes: UpdateOptions", ts_return_type = "Promise<KeyInfo>")]
    pub fn update(&self, env: Env, id: Unknown, changes: Unknown) -> Result<AsyncTask<UpdateTask>> {
        let id = string(&env, "id", id)?;
        let changes = update_options(&env, changes)?;
        Ok(AsyncTask::new(UpdateTask { kh: self.inner.clone(), id: Some(id), changes: Some(changes) }))
    }

    /// `update`, on the calling thread.
    #[napi(ts_args_type = "id: string, changes: UpdateOptions")]
    pub fn update_sync(&self, env: Env, id: Unknown, changes: Unknown) -> Result<KeyInfo> {
        let id = string(&env, "id", id)?;
        let changes = update_options(&env, changes)?;
        Ok(self.inner.update(&id, changes).js(&env)?.into())
    }

    /// Revokes a key (soft): it stays, and verifies as REVOKED.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<KeyInfo>")]
    pub fn revoke(&self, env: Env, id: Unknown) -> Result<AsyncTask<RevokeTask>> {
        Ok(AsyncTask::new(RevokeTask { kh: self.inner.clone(), id: Some(string(&env, "id", id)?) }))
    }

    /// `revoke`, on the calling thread.
    #[napi(ts_args_type = "id: string")]
    pub fn revoke_sync(&self, env: Env, id: Unknown) -> Result<KeyInfo> {
        Ok(self.inner.revoke(&string(&env, "id", id)?).js(&env)?.into())
    }

    /// Deletes a key for good.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<void>")]
    pub fn delete(&self, env: Env, id: Unknown) -> Result<AsyncTask<DeleteTask>> {
        Ok(AsyncTask::new(DeleteTask { kh: self.inner.clone(), id: Some(string(&env, "id", id)?) }))
    }

    /// `delete`, on the calling thread.
    #[napi(ts_args_type = "id: string")]
    pub fn delete_sync(&self, env: Env, id: Unknown) -> Result<()> {
        self.inner.delete(&string(&env, "id", id)?).js(&env)
    }

    /// Issues a new key with the same settings; the old one keeps working for
    /// `grace` seconds (default 0) and then expires.
    #[napi(ts_args_type = "id: string, grace?: number", ts_return_type = "Promise<CreatedKey>")]
    pub fn roll(&self, env: Env, id: Unknown, grace: Option<Unknown>) -> Result<AsyncTask<RollTask>> {
        let (id, grace) = roll_args(&env, id, grace)?;
        Ok(AsyncTask::new(RollTask { kh: self.inner.clone(), id: Some(id), grace: Some(grace) }))
    }

    /// `roll`, on the calling thread.
    #[napi(ts_args_type = "id: string, grace?: number")]
    pub fn roll_sync(&self, env: Env, id: Unknown, grace: Option<Unknown>) -> Result<CreatedKey> {
        let (id, grace) = roll_args(&env, id, grace)?;
        Ok(self.inner.roll(&id, grace).js(&env)?.into())
    }

    /// Deletes every expired key; resolves to how many.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn purge_expired(&self) -> AsyncTask<PurgeTask> {
        AsyncTask::new(PurgeTask { kh: self.inner.clone(), unit: Some(()) })
    }

    /// `purgeExpired`, on the calling thread.
    #[napi]
    pub fn purge_expired_sync(&self, env: Env) -> Result<i64> {
        Ok(self.inner.purge_expired().js(&env)? as i64)
    }

    /// Writes pending usage counts now.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self) -> AsyncTask<FlushTask> {
        AsyncTask::new(FlushTask { kh: self.inner.clone(), unit: Some(()) })
    }

    /// `flush`, on the calling thread.
    #[napi]
    pub fn flush_sync(&self, env: Env) -> Result<()> {
        self.inner.flush().js(&env)
    }

    /// Flushes usage counts and closes the database; later calls throw `CLOSED`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<CloseTask> {
        AsyncTask::new(CloseTask { kh: self.inner.clone(), unit: Some(()) })
    }

    /// `close`, on the calling thread.
    #[napi]
    pub fn close_sync(&self, env: Env) -> Result<()> {
        self.inner.close().js(&env)
    }
}

fn verify_args(
    env: &Env,
    key: Unknown,
    permissions: Option<Unknown>,
    cost: Option<Unknown>,
) -> Result<(String, Vec<String>, u32)> {
    let key = key_text(env, key)?.into_owned();
    let permissions = present(permissions)?.map(|p| strings(env, "permissions", p)).transpose()?.unwrap_or_default();
    let cost = present(cost)?.map(|c| integer(env, "cost", c, 0.0, f64::from(u32::MAX))).transpose()?.unwrap_or(1);
    Ok((key, permissions, cost as u32))
}

fn roll_args(env: &Env, id: Unknown, grace: Option<Unknown>) -> Result<(String, Duration)> {
    let id = string(env, "id", id)?;
    let grace = present(grace)?.map(|g| seconds(env, "grace", g)).transpose()?.unwrap_or_default();
    Ok((id, grace))
}

/// The store configuration from an options object.
pub fn config_from_js(env: &Env, v: Option<Unknown>) -> Result<Config> {
    const KNOWN: &[&str] = &[
        "defaultPrefix",
        "secretBytes",
        "pepper",
        "previousPeppers",
        "defaultPermissions",
        "defaultExpiry",
        "minExpiry",
        "maxExpiry",
        "maxKeysPerOwner",
        "usageFlushInterval",
        "busyTimeout",
        "rehashOnVerify",
        "verifyCacheSize",
        "poolSize",
        "connectTimeout",
        "statementTimeout",
        "maxStaleness",
        "schema",
        "listenUrl",
        "leaseSize",
        "leaseIdle",
    ];
    let mut c = Config::default();
    options(env, "config", v, KNOWN, |name, v| {
        if is_nullish(&v)? {
            return Ok(());
        }
        match name {
            "defaultPrefix" => c.default_prefix = string(env, name, v)?,
            "secretBytes" => c.secret_bytes = integer(env, name, v, 0.0, 1024.0)? as usize,
            "pepper" => c.pepper = opt_pepper(env, name, Some(v))?,
            "previousPeppers" => c.previous_peppers = peppers(env, name, Some(v))?,
            "defaultPermissions" => c.default_permissions = strings(env, name, v)?,
            "defaultExpiry" => c.default_expiry = Some(seconds(env, name, v)?),
            "minExpiry" => c.min_expiry = Some(seconds(env, name, v)?),
            "maxExpiry" => c.max_expiry = Some(seconds(env, name, v)?),
            "maxKeysPerOwner" => c.max_keys_per_owner = Some(integer(env, name, v, 0.0, f64::from(u32::MAX))? as u32),
            "usageFlushInterval" => c.usage_flush_interval = seconds(env, name, v)?,
            "busyTimeout" => c.busy_timeout = seconds(env, name, v)?,
            "rehashOnVerify" => c.rehash_on_verify = boolean(env, name, v)?,
            "verifyCacheSize" => c.verify_cache_size = integer(env, name, v, 0.0, f64::from(u32::MAX))? as u32,
            "poolSize" => c.pool_size = integer(env, name, v, 0.0, f64::from(u32::MAX))? as u32,
            "connectTimeout" => c.connect_timeout = seconds(env, name, v)?,
            "statementTimeout" => c.statement_timeout = seconds(env, name, v)?,
            "maxStaleness" => c.max_staleness = seconds(env, name, v)?,
            "schema" => c.schema = string(env, name, v)?,
            "listenUrl" => c.listen_url = Some(string(env, name, v)?),
            "leaseSize" => c.lease_size = Some(integer(env, name, v, 0.0, f64::from(u32::MAX))? as u32),
            "leaseIdle" => c.lease_idle = seconds(env, name, v)?,
            _ => return Err(unhandled(name)),
        }
        Ok(())
    })?;
    Ok(c)
}

fn refill(env: &Env, v: Unknown) -> Result<keyhouse::Refill> {
    let obj = object(env, "refill", v)?;
    let amount: Unknown = obj.get_named_property("amount")?;
    let interval: Unknown = obj.get_named_property("interval")?;
    Ok(keyhouse::Refill {
        amount: integer(env, "refill.amount", amount, 0.0, 9_007_199_254_740_991.0)?,
        interval: seconds(env, "refill.interval", interval)?,
    })
}

fn rate_limit(env: &Env, v: Unknown) -> Result<keyhouse::RateLimit> {
    let obj = object(env, "rateLimit", v)?;
    let limit: Unknown = obj.get_named_property("limit")?;
    let window: Unknown = obj.get_named_property("window")?;
    Ok(keyhouse::RateLimit {
        limit: integer(env, "rateLimit.limit", limit, 0.0, f64::from(u32::MAX))? as u32,
        window: seconds(env, "rateLimit.window", window)?,
    })
}

fn create_options(env: &Env, what: &str, v: Option<Unknown>) -> Result<CreateOptions> {
    const KNOWN: &[&str] = &[
        "ownerId",
        "name",
        "prefix",
        "expiresIn",
        "expiresAt",
        "permissions",
        "metadata",
        "remaining",
        "refill",
        "rateLimit",
    ];
    let mut o = CreateOptions::default();
    options(env, what, v, KNOWN, |name, v| {
        if is_nullish(&v)? {
            return Ok(());
        }
        match name {
            "ownerId" => o.owner_id = Some(string(env, name, v)?),
            "name" => o.name = Some(string(env, name, v)?),
            "prefix" => o.prefix = Some(string(env, name, v)?),
            "expiresIn" => o.expires_in = Some(seconds(env, name, v)?),
            "expiresAt" => o.expires_at = Some(date(env, name, v)?),
            "permissions" => o.permissions = Some(strings(env, name, v)?),
            "metadata" => o.metadata = Some(metadata(env, v)?),
            "remaining" => {
                o.remaining = Some(integer(env, name, v, -9_007_199_254_740_991.0, 9_007_199_254_740_991.0)?)
            }
            "refill" => o.refill = Some(refill(env, v)?),
            "rateLimit" => o.rate_limit = Some(rate_limit(env, v)?),
            _ => return Err(unhandled(name)),
        }
        Ok(())
    })?;
    Ok(o)
}

fn create_options_list(env: &Env, v: Unknown) -> Result<Vec<CreateOptions>> {
    elements(env, "options", "an array of objects", v, |item_name, item| create_options(env, item_name, Some(item)))
}

fn list_options(env: &Env, v: Option<Unknown>) -> Result<ListOptions> {
    let mut o = ListOptions::default();
    options(env, "options", v, &["ownerId", "limit", "cursor", "includeRevoked"], |name, v| {
        if is_nullish(&v)? {
            return Ok(());
        }
        match name {
            "ownerId" => o.owner_id = Some(string(env, name, v)?),
            "limit" => o.limit = integer(env, name, v, 0.0, f64::from(u32::MAX))? as u32,
            "cursor" => o.cursor = Some(string(env, name, v)?),
            "includeRevoked" => o.include_revoked = boolean(env, name, v)?,
            _ => return Err(unhandled(name)),
        }
        Ok(())
    })?;
    Ok(o)
}

fn update_options(env: &Env, v: Unknown) -> Result<UpdateOptions> {
    const KNOWN: &[&str] =
        &["name", "enabled", "permissions", "metadata", "expiresAt", "remaining", "refill", "rateLimit"];
    if is_nullish(&v)? {
        return Err(type_error(env, "changes must be an object"));
    }
    let mut o = UpdateOptions::default();
    // `undefined` leaves a field as it is; `null` clears the clearable ones.
    options(env, "changes", Some(v), KNOWN, |name, v| {
        if v.get_type()? == napi::ValueType::Undefined {
            return Ok(());
        }
        let cleared = is_nullish(&v)?;
        match name {
            "name" => o.name = Some(if cleared { None } else { Some(string(env, name, v)?) }),
            "enabled" => o.enabled = Some(boolean(env, name, v)?),
            "permissions" => o.permissions = Some(strings(env, name, v)?),
            "metadata" => o.metadata = Some(metadata(env, v)?),
            "expiresAt" => o.expires_at = Some(if cleared { None } else { Some(date(env, name, v)?) }),
            "remaining" => {
                o.remaining = Some(if cleared {
                    None
                } else {
                    Some(integer(env, name, v, -9_007_199_254_740_991.0, 9_007_199_254_740_991.0)?)
                })
            }
            "refill" => o.refill = Some(if cleared { None } else { Some(refill(env, v)?) }),
            "rateLimit" => o.rate_limit = Some(if cleared { None } else { Some(rate_limit(env, v)?) }),
            _ => return Err(unhandled(name)),
        }
        Ok(())
    })?;
    Ok(o)
}
