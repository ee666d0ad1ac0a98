//! The key store: [`Keyhouse`] over SQLite.

mod cache;
mod roll;
pub(crate) mod rows;
pub mod schema;
mod usage;
mod verifying;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::format::{self, generate_with_random, is_valid_id, parse_parts};
use crate::hashing::Pepper;
use crate::model::{CreateOptions, CreatedKey, KeyInfo, KeyPage, ListOptions, RateLimit, Refill, UpdateOptions};
use crate::permissions::validate_grants;
use crate::seam::Seams;
use crate::time::duration_millis;
use crate::verify::apply_refill;
use crate::Timestamp;
use cache::{VerifyCache, WalIndex};
use rows::{load, load_existing, select_keys, validate_metadata, KeyRow, MAX_RATE_LIMIT, MAX_WINDOW};
use usage::UsageBuffer;

const MAX_TEXT_LEN: usize = 256;
const MAX_LIST_LIMIT: u32 = 1000;
const MEMORY_PATH: &str = ":memory:";

/// An API-key store on SQLite: create, verify, list, update, revoke, roll and delete keys.
///
/// One instance serves many threads at once (`Send + Sync`). Writes go
/// through one connection behind a mutex; reads, including the lookup of
/// every verify, go through a small pool of read-only connections, which
/// WAL lets run beside the writer and beside other processes. Verify serves
/// rows from memory while nothing has committed since they were read (see
/// `cache`).
pub struct Keyhouse {
    // Declared before the connections, so it is gone before they close: it
    // reads through the writer's mapping of the WAL-index.
    cache: RwLock<Option<VerifyCache>>,
    writer: Mutex<Option<Connection>>,
    readers: Vec<Mutex<Option<Connection>>>,
    next_reader: AtomicUsize,
    config: Config,
    peppers: Vec<Pepper>,
    seams: Seams,
    usage: UsageBuffer,
}

impl std::fmt::Debug for Keyhouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyhouse").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Keyhouse {
    /// Opens (creating if needed) the store in the SQLite file at `path`, or
    /// an in-memory store for `":memory:"`.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Self> {
        Self::open_with_seams(path.as_ref(), config, Seams::default())
    }

    /// Opens a new, empty store that lives in memory and ends with this instance.
    pub fn open_in_memory(config: Config) -> Result<Self> {
        Self::open_with_seams(Path::new(MEMORY_PATH), config, Seams::default())
    }

    /// [`Keyhouse::open`] with an injected clock and randomness: the test seam.
    #[doc(hidden)]
    pub fn open_with_seams(path: &Path, config: Config, seams: Seams) -> Result<Self> {
        config.validate()?;
        let in_memory = path == Path::new(MEMORY_PATH);
        let mut writer = if in_memory { Connection::open_in_memory()? } else { Connection::open(path)? };
        schema::configure(&writer, config.busy_timeout, true)?;
        schema::migrate(&mut writer, !in_memory, config.busy_timeout)?;
        let readers = if in_memory {
            // Each in-memory connection is its own database, so all go through the writer.
            Vec::new()
        } else {
            let n = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
            (0..n)
                .map(|_| {
                    let flags =
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
                    let conn = Connection::open_with_flags(path, flags)?;
                    schema::configure(&conn, config.busy_timeout, false)?;
                    Ok(Mutex::new(Some(conn)))
                })
                .collect::<Result<_>>()?
        };
        // SAFETY: the cache is dropped before the writer closes (field order
        // above, and `close` takes it first).
        let cache = if in_memory { None } else { unsafe { WalIndex::of(&writer) }.map(VerifyCache::new) };
        let now = seams.clock.now();
        let peppers = config.peppers().cloned().collect();
        let usage = UsageBuffer::new(now, duration_millis(config.usage_flush_interval));
        Ok(Keyhouse {
            writer: Mutex::new(Some(writer)),
            readers,
            cache: RwLock::new(cache),
            next_reader: AtomicUsize::new(0),
            config,
            peppers,
            seams,
            usage,
        })
    }

    /// The configuration this store was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Creates a key. The returned plaintext is shown once: only its hash is stored.
    pub fn create(&self, options: CreateOptions) -> Result<CreatedKey> {
        let mut created = self.create_many(vec![options])?;
        Ok(created.pop().expect("one key in, one key out"))
    }

    /// Creates many keys in one transaction: all of them, or none on error.
    /// The fast path for bulk imports.
    pub fn create_many(&self, options: Vec<CreateOptions>) -> Result<Vec<CreatedKey>> {
        let now = self.now();
        // Generation and hashing happen before the write lock is taken.
        let built = options.into_iter().map(|o| self.build_key(o, now)).collect::<Result<Vec<_>>>()?;
        // Inserting in id order walks the id index from left to right
        // instead of jumping between random pages.
        let mut order: Vec<&KeyRow> = built.iter().map(|(_, row)| row).collect();
        order.sort_unstable_by(|a, b| a.info.id.cmp(&b.info.id));
        self.write(|tx| {
            let mut owner_counts: HashMap<&str, u32> = HashMap::new();
            for row in order {
                if let (Some(limit), Some(owner)) = (self.config.max_keys_per_owner, row.info.owner_id.as_deref()) {
                    let count = match owner_counts.get_mut(owner) {
                        Some(c) => c,
                        None => owner_counts.entry(owner).or_insert(active_keys(tx, owner, now)?),
                    };
                    if *count >= limit {
                        return Err(Error::KeyLimitExceeded { owner_id: owner.to_owned(), limit });
                    }
                    *count += 1;
                }
                row.save(tx, true)?;
            }
            Ok(())
        })?;
        Ok(built.into_iter().map(|(key, row)| CreatedKey { key, info: row.info }).collect())
    }

    /// The key with this id. A key in its grace period after a roll shows
    /// the credits it spends, which are its replacement's.
    pub fn get(&self, id: &str) -> Result<KeyInfo> {
        check_id(id)?;
        let now = self.now();
        let row = self.read(|c| {
            let mut row = load_existing(c, id)?;
            show_shared_balance(c, &mut row)?;
            Ok(row)
        })?;
        Ok(self.present(row, now))
    }

    /// One page of keys, oldest first, with a cursor for the next page.
    pub fn list(&self, options: &ListOptions) -> Result<KeyPage> {
        if !(1..=MAX_LIST_LIMIT).contains(&options.limit) {
            return Err(Error::invalid(format!("limit must be 1-{MAX_LIST_LIMIT}, got {}", options.limit)));
        }
        let after = options.cursor.as_deref().map(parse_cursor).transpose()?;
        let mut sql = String::from(concat!(select_keys!(), " WHERE 1 = 1"));
        if options.owner_id.is_some() {
            sql.push_str(" AND k.owner_id = :owner");
        }
        if !options.include_revoked {
            sql.push_str(" AND k.revoked_at IS NULL");
        }
        if after.is_some() {
            sql.push_str(" AND (k.created_at, k.id) > (:after_t, :after_id)");
        }
        sql.push_str(" ORDER BY k.created_at, k.id LIMIT :limit");
        let now = self.now();
        let mut rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let limit = i64::from(options.limit) + 1;
            let (after_t, after_id) = after.clone().unzip();
            let mut params: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":limit", &limit)];
            if let Some(owner) = &options.owner_id {
                params.push((":owner", owner));
            }
            if let (Some(t), Some(id)) = (&after_t, &after_id) {
                params.push((":after_t", t));
                params.push((":after_id", id));
            }
            let mut rows =
                stmt.query_map(params.as_slice(), KeyRow::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            for row in &mut rows {
                show_shared_balance(c, row)?;
            }
            Ok(rows)
        })?;
        let next_cursor = if rows.len() > options.limit as usize {
            rows.truncate(options.limit as usize);
            rows.last().map(|r| format!("{}.{}", r.info.created_at.as_millis(), r.info.id))
        } else {
            None
        };
        Ok(KeyPage { keys: rows.into_iter().map(|r| self.present(r, now)).collect(), next_cursor })
    }

    /// Changes a key's settings; see [`UpdateOptions`].
    pub fn update(&self, id: &str, options: UpdateOptions) -> Result<KeyInfo> {
        check_id(id)?;
        if let Some(Some(name)) = &options.name {
            check_text("name", name)?;
        }
        if let Some(p) = &options.permissions {
            validate_grants(p)?;
        }
        if let Some(m) = &options.metadata {
            validate_metadata(m)?;
        }
        if let Some(Some(r)) = options.remaining {
            check_remaining(r)?;
        }
        if let Some(Some(r)) = &options.refill {
            check_refill(r)?;
        }
        if let Some(Some(rl)) = &options.rate_limit {
            check_rate_limit(rl)?;
        }
        let now = self.now();
        if let Some(expires_at) = options.expires_at {
            if let Some(t) = expires_at {
                check_time(t)?;
            }
            self.check_expiry_bound(expires_at, now)?;
        }
        let changes_limits = options.remaining.is_some() || options.refill.is_some() || options.rate_limit.is_some();
        let row = self.write(|tx| {
            let mut row = load_existing(tx, id)?;
            if let (true, Some(next)) = (changes_limits, &row.limit_source) {
                return Err(Error::invalid(format!(
                    "key {id} was rolled and spends the limits of {next}; change those on {next}"
                )));
            }
            apply_refill(&mut row.info, now);
            let info = &mut row.info;
            if let Some(name) = options.name {
                info.name = name;
            }
            if let Some(enabled) = options.enabled {
                info.enabled = enabled;
            }
            if let Some(p) = options.permissions {
                info.permissions = dedup(p);
            }
            if let Some(m) = options.metadata {
                info.metadata = m;
            }
            if let Some(e) = options.expires_at {
                info.expires_at = e;
            }
            if let Some(r) = options.remaining {
                info.remaining = r;
            }
            if let Some(refill) = options.refill {
                info.refill = refill;
                info.last_refill_at = refill.map(|_| now);
                if let (Some(r), None) = (refill, info.remaining) {
                    info.remaining = Some(r.amount);
                }
            }
            if info.refill.is_some() && info.remaining.is_none() {
                return Err(Error::invalid("a key with a refill needs credits: clear the refill first"));
            }
            if let Some(rl) = options.rate_limit {
                info.rate_limit = rl;
                row.rate_tat = None;
            }
            row.info.updated_at = now;
            row.save(tx, false)?;
            Ok(row)
        })?;
        Ok(self.present(row, now))
    }

    /// Revokes a key (soft): the row stays and verify says REVOKED.
    /// Revoking a revoked key changes nothing.
    pub fn revoke(&self, id: &str) -> Result<KeyInfo> {
        check_id(id)?;
        let now = self.now();
        let row = self.write(|tx| {
            let mut row = load_existing(tx, id)?;
            if row.info.revoked_at.is_none() {
                row.info.revoked_at = Some(now);
                row.info.updated_at = now;
                row.save(tx, false)?;
            }
            Ok(row)
        })?;
        Ok(self.present(row, now))
    }

    /// Deletes a key for good.
    pub fn delete(&self, id: &str) -> Result<()> {
        check_id(id)?;
        self.write(|tx| match tx.prepare_cached("DELETE FROM keys WHERE id = ?1")?.execute([id])? {
            0 => Err(Error::NotFound(id.to_owned())),
            _ => Ok(()),
        })?;
        self.usage.forget(id);
        self.forget_cached(id);
        Ok(())
    }

    /// Drops the verify cache's copy of a key, fresh or not.
    fn forget_cached(&self, id: &str) {
        if let Some(cache) = self.cache.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            cache.forget(id);
        }
    }

    /// Deletes every key whose expiry has passed; returns how many.
    pub fn purge_expired(&self) -> Result<u64> {
        let now = self.now();
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM keys WHERE expires_at IS NOT NULL AND expires_at <= ?1")?
                .execute([now.as_millis()])?;
            Ok(n as u64)
        })
    }

    /// Writes pending usage counts now.
    pub fn flush(&self) -> Result<()> {
        let mut guard = lock(&self.writer);
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        self.usage.flush(conn)
    }

    /// Flushes pending usage and closes the database. Later calls fail with
    /// CLOSED. If the flush fails, the store stays open and the error is returned.
    pub fn close(&self) -> Result<()> {
        let mut guard = lock(&self.writer);
        let Some(conn) = guard.as_mut() else { return Ok(()) };
        self.usage.flush(conn)?;
        // Unmap before the connections go, while verifies in flight finish.
        self.cache.write().unwrap_or_else(|e| e.into_inner()).take();
        for r in &self.readers {
            lock(r).take();
        }
        guard.take();
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.seams.clock.now()
    }

    fn generate(&self, prefix: &str) -> Result<format::GeneratedKey> {
        generate_with_random(prefix, self.config.secret_bytes, self.config.pepper.as_ref(), &*self.seams.random)
    }

    /// Validates create options against the config and generates the key.
    fn build_key(&self, o: CreateOptions, now: Timestamp) -> Result<(String, KeyRow)> {
        if let Some(owner) = &o.owner_id {
            check_text("owner_id", owner)?;
        }
        if let Some(name) = &o.name {
            check_text("name", name)?;
        }
        let permissions = dedup(o.permissions.unwrap_or_else(|| self.config.default_permissions.clone()));
        validate_grants(&permissions)?;
        let metadata = o.metadata.unwrap_or_default();
        validate_metadata(&metadata)?;
        let expires_at = self.resolve_expiry(o.expires_in, o.expires_at, now)?;
        if let Some(r) = o.remaining {
            check_remaining(r)?;
        }
        if let Some(r) = &o.refill {
            check_refill(r)?;
        }
        if let Some(rl) = &o.rate_limit {
            check_rate_limit(rl)?;
        }
        let prefix = o.prefix.unwrap_or_else(|| self.config.default_prefix.clone());
        let generated = self.generate(&prefix)?;
        let info = KeyInfo {
            id: generated.id,
            prefix,
            owner_id: o.owner_id,
            name: o.name,
            permissions,
            metadata,
            enabled: true,
            created_at: now,
            updated_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            usage_count: 0,
            remaining: o.remaining.or(o.refill.map(|r| r.amount)),
            refill: o.refill,
            last_refill_at: o.refill.map(|_| now),
            rate_limit: o.rate_limit,
        };
        Ok((generated.key, KeyRow { info, hash: generated.hash, rate_tat: None, limit_source: None, seq: 0 }))
    }

    fn resolve_expiry(
        &self,
        expires_in: Option<Duration>,
        at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let after = |d: Duration| now.checked_add(d).ok_or_else(|| Error::invalid("expiry reaches past 9999-12-31"));
        let expires_at = match (expires_in, at) {
            (Some(_), Some(_)) => return Err(Error::invalid("give expires_in or expires_at, not both")),
            (Some(d), None) => Some(after(d)?),
            (None, Some(t)) => {
                check_time(t)?;
                Some(t)
            }
            (None, None) => self.config.default_expiry.or(self.config.max_expiry).map(after).transpose()?,
        };
        if let Some(t) = expires_at {
            if t <= now {
                return Err(Error::invalid(format!("expiry {t} is not in the future")));
            }
            let lifetime = Duration::from_millis((t.as_millis() - now.as_millis()) as u64);
            if let Some(min) = self.config.min_expiry.filter(|&min| lifetime < min) {
                return Err(Error::invalid(format!("expiry must be at least {}s away", min.as_secs_f64())));
            }
        }
        self.check_expiry_bound(expires_at, now)?;
        Ok(expires_at)
    }

    /// Enforces `max_expiry` on an expiry being set.
    fn check_expiry_bound(&self, expires_at: Option<Timestamp>, now: Timestamp) -> Result<()> {
        let Some(max) = self.config.max_expiry else { return Ok(()) };
        match expires_at {
            None => Err(Error::invalid("max_expiry is configured, so every key must expire")),
            Some(t) if t > now.saturating_add(max) => {
                Err(Error::invalid(format!("expiry must be at most {}s away", max.as_secs_f64())))
            }
            Some(_) => Ok(()),
        }
    }

    /// A stored row as callers see it: refills due and pending usage applied.
    fn present(&self, mut row: KeyRow, now: Timestamp) -> KeyInfo {
        apply_refill(&mut row.info, now);
        self.usage.overlay(&mut row.info);
        row.info
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.readers.is_empty() {
            let guard = lock(&self.writer);
            return f(guard.as_ref().ok_or(Error::Closed)?);
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        // Take the first idle reader; if all are busy, wait for one.
        let guard = (0..n)
            .find_map(|i| self.readers[(start + i) % n].try_lock().ok())
            .unwrap_or_else(|| lock(&self.readers[start % n]));
        f(guard.as_ref().ok_or(Error::Closed)?)
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut guard = lock(&self.writer);
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl Drop for Keyhouse {
    fn drop(&mut self) {
        // Best effort; `close` reports errors for callers who care.
        let _ = self.flush();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves at worst an open
    // transaction, which the Transaction guard has already rolled back.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shows on a key in its grace period after a roll the balance it spends:
/// its replacement's, as `get`, `list` and `verify` all do.
fn show_shared_balance(conn: &Connection, row: &mut KeyRow) -> Result<()> {
    if let Some(src) = row.limit_source.as_deref().map(|s| load(conn, s)).transpose()?.flatten() {
        row.show_balance_of(&src);
    }
    Ok(())
}

/// Keys of `owner` that can still verify: neither revoked nor expired.
/// Expired keys do not count towards `max_keys_per_owner`; they stay
/// listed until `purge_expired`, but can never be used again.
fn active_keys(tx: &Transaction<'_>, owner: &str, now: Timestamp) -> Result<u32> {
    let n: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM keys WHERE owner_id = ?1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > ?2)",
        )?
        .query_row(rusqlite::params![owner, now.as_millis()], |r| r.get(0))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Checks an id argument. The value is never quoted back: a caller who
/// passes a whole key where an id belongs would otherwise see its secret
/// in an error message, and in every log that records it.
fn check_id(id: &str) -> Result<()> {
    if is_valid_id(id) {
        return Ok(());
    }
    match parse_parts(id) {
        Ok(parts) => Err(Error::invalid(format!("this looks like a key, not an id; the id is {}", parts.id))),
        Err(_) => Err(Error::invalid(format!(
            "not a key id: an id is 14 base62 characters, got {} characters",
            id.chars().count()
        ))),
    }
}

/// Whether `t` is a time every binding can represent.
fn check_time(t: Timestamp) -> Result<()> {
    if t.in_range() {
        Ok(())
    } else {
        Err(Error::invalid(format!("time {} ms is outside 0001-01-01..9999-12-31", t.as_millis())))
    }
}

fn check_text(field: &str, value: &str) -> Result<()> {
    let n = value.chars().count();
    if n == 0 || n > MAX_TEXT_LEN || value.contains('\0') {
        return Err(Error::invalid(format!("{field} must be 1-{MAX_TEXT_LEN} characters without NUL")));
    }
    Ok(())
}

fn check_remaining(r: i64) -> Result<()> {
    if r < 0 {
        return Err(Error::invalid(format!("remaining must not be negative, got {r}")));
    }
    Ok(())
}

fn check_refill(r: &Refill) -> Result<()> {
    check_remaining(r.amount)?;
    if r.interval < Duration::from_millis(1) || r.interval > MAX_WINDOW {
        return Err(Error::invalid("refill interval must be between 1 ms and 366 days"));
    }
    Ok(())
}

fn check_rate_limit(rl: &RateLimit) -> Result<()> {
    if !(1..=MAX_RATE_LIMIT).contains(&rl.limit) {
        return Err(Error::invalid(format!("rate limit must be 1-{MAX_RATE_LIMIT} requests, got {}", rl.limit)));
    }
    if rl.window < Duration::from_millis(1) || rl.window > MAX_WINDOW {
        return Err(Error::invalid("rate-limit window must be between 1 ms and 366 days"));
    }
    Ok(())
}

fn dedup(perms: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    perms.into_iter().filter(|p| seen.insert(p.clone())).collect()
}

fn parse_cursor(c: &str) -> Result<(i64, String)> {
    let bad = || Error::invalid("cursor is not one returned by list");
    let (t, id) = c.split_once('.').ok_or_else(bad)?;
    let t = t.parse().map_err(|_| bad())?;
    if !is_valid_id(id) {
        return Err(bad());
    }
    Ok((t, id.to_owned()))
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Keyhouse>();
}
