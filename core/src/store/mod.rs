//! The key store: [`Keyhouse`] over SQLite or PostgreSQL.

pub(crate) mod backend;
pub(crate) mod checks;
mod clock;
mod copy;
mod flusher;
pub(crate) mod id;
mod id_map;
mod lease;
mod leasing;
pub(crate) mod postgres;
mod prefetch;
mod roll;
pub(crate) mod row;
mod row_info;
use row_info::MetadataText;
pub(crate) mod sqlite;
mod usage;
pub(crate) mod verifying;
mod writes;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::format::{self, generate_from};
use crate::hashing::{Pepper, RowHash};
use crate::model::{CreateOptions, CreatedKey, KeyInfo, KeyPage, ListOptions, UpdateOptions};
use crate::permissions::validate_grants;
use crate::seam::Seams;
use crate::time::duration_millis;
use crate::verify::apply_refill;
use crate::Timestamp;
use backend::{Backend, Tx};
use checks::{
    check_id, check_rate_limit, check_refill, check_remaining, check_text, check_time, dedup, parse_cursor,
    validate_metadata,
};
pub use copy::CopyReport;
use flusher::Flusher;
use lease::LeaseBook;
use row::KeyRow;
use sqlite::{Sqlite, MEMORY_PATH};
use usage::UsageBuffer;

const MAX_LIST_LIMIT: u32 = 1000;

/// An API-key store on SQLite or PostgreSQL: create, verify, list, update,
/// revoke, roll and delete keys.
///
/// One instance serves many threads at once (`Send + Sync`). Writes go
/// through one connection behind a mutex; reads, including the lookup of
/// every verify, go through a small pool of read-only connections, which
/// WAL lets run beside the writer and beside other processes. Verify serves
/// rows from memory while nothing has committed since they were read (see
/// `sqlite::cache`).
pub struct Keyhouse {
    // Shared with the thread that gives back idle leases, which holds it weakly.
    db: Arc<dyn Backend>,
    config: Config,
    peppers: Vec<Pepper>,
    seams: Seams,
    // Shared with the usage flush thread, which holds it weakly.
    usage: Arc<UsageBuffer>,
    /// The usage flush thread; `None` when every verify flushes (an
    /// interval of 0).
    flusher: Option<Arc<Flusher>>,
    /// The leases this store holds, in leased mode (`Config::lease_size`).
    leases: Option<Arc<LeaseBook>>,
}

impl std::fmt::Debug for Keyhouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyhouse").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Keyhouse {
    /// Opens (creating if needed) a store:
    /// - `postgres://…` or `postgresql://…`: a PostgreSQL database, shared by
    ///   many app servers (its tables live in the schema `config.schema`);
    /// - a path, or `sqlite:PATH`: the SQLite file there;
    /// - `":memory:"`: an in-memory SQLite store.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Self> {
        Self::open_seamed(path.as_ref(), config, Seams::default())
    }

    /// Opens a new, empty store that lives in memory and ends with this instance.
    pub fn open_in_memory(config: Config) -> Result<Self> {
        Self::open_seamed(Path::new(MEMORY_PATH), config, Seams::default())
    }

    /// [`Keyhouse::open`] with an injected clock and randomness: the test
    /// seam, only in builds with the `test-seams` feature.
    #[cfg(feature = "test-seams")]
    pub fn open_with_seams(path: &Path, config: Config, seams: Seams) -> Result<Self> {
        Self::open_seamed(path, config, seams)
    }

    fn open_seamed(path: &Path, config: Config, seams: Seams) -> Result<Self> {
        config.validate()?;
        let db: Arc<dyn Backend> = match path.to_str() {
            Some(url) if postgres::is_postgres_url(url) => Arc::new(postgres::Postgres::open(url, &config)?),
            Some(p) if p.starts_with("sqlite:") => Arc::new(Sqlite::open(Path::new(&p["sqlite:".len()..]), &config)?),
            _ => Arc::new(Sqlite::open(path, &config)?),
        };
        let now = seams.clock.now();
        let peppers = config.peppers().cloned().collect();
        let flush_interval_ms = duration_millis(config.usage_flush_interval);
        // As many rows as a verify cache holds may count uses in cells.
        let usage = Arc::new(UsageBuffer::new(now, flush_interval_ms, config.verify_cache_size as usize));
        // Under a millisecond counts as 0, as the usage buffer counts it.
        let flusher = (flush_interval_ms > 0).then(Flusher::new);
        let leases = config.lease_size.map(|n| Arc::new(LeaseBook::new(n, config.lease_idle)));
        Ok(Keyhouse { db, config, peppers, seams, usage, flusher, leases })
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
        self.db.write(|tx| {
            let mut owner_counts: HashMap<&str, u32> = HashMap::new();
            for row in &order {
                if let (Some(limit), Some(owner)) = (self.config.max_keys_per_owner, row.info.owner_id.as_deref()) {
                    let count = match owner_counts.get_mut(owner) {
                        Some(c) => c,
                        None => owner_counts.entry(owner).or_insert(tx.active_keys(owner, now)?),
                    };
                    if *count >= limit {
                        return Err(Error::KeyLimitExceeded { owner_id: owner.to_owned(), limit });
                    }
                    *count += 1;
                }
            }
            tx.insert_many(&order, false).map(drop)
        })?;
        Ok(built.into_iter().map(|(key, row)| CreatedKey { key, info: row.info.into_info() }).collect())
    }

    /// The key with this id. A key in its grace period after a roll shows
    /// the credits it spends, which are its replacement's.
    pub fn get(&self, id: &str) -> Result<KeyInfo> {
        check_id(id)?;
        let now = self.now();
        let row = self.db.read(|tx| {
            let mut row = tx.load_existing(id)?;
            tx.show_shared_balance(&mut row)?;
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
        let now = self.now();
        let mut rows = self.db.read(|tx| {
            let mut rows = tx.list(options, after)?;
            for row in &mut rows {
                tx.show_shared_balance(row)?;
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
        let row = self.write_key(id, now, |tx, mut row| {
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
                info.metadata = MetadataText::new(&m);
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
            if changes_limits {
                // Credits set by hand replace the balance: leases taken from
                // the old one must not be spent beside it, nor added to it.
                row.limit_epoch += 1;
            }
            row.info.updated_at = now;
            tx.update(&row)?;
            Ok(row)
        })?;
        Ok(self.present(row, now))
    }

    /// Revokes a key (soft): the row stays and verify says REVOKED.
    /// Revoking a revoked key changes nothing.
    pub fn revoke(&self, id: &str) -> Result<KeyInfo> {
        check_id(id)?;
        let now = self.now();
        let row = self.db.write(|tx| {
            let mut row = tx.load_existing(id)?;
            if row.info.revoked_at.is_none() {
                row.info.revoked_at = Some(now);
                row.info.updated_at = now;
                tx.update(&row)?;
            }
            Ok(row)
        })?;
        Ok(self.present(row, now))
    }

    /// Deletes a key for good.
    pub fn delete(&self, id: &str) -> Result<()> {
        check_id(id)?;
        if !self.db.write(|tx| tx.delete(id))? {
            return Err(Error::NotFound(id.to_owned()));
        }
        self.usage.forget(id);
        if let Some(book) = &self.leases {
            book.take_key(id);
        }
        self.db.forget(id);
        Ok(())
    }

    /// Deletes every key whose expiry has passed; returns how many.
    pub fn purge_expired(&self) -> Result<u64> {
        let now = self.now();
        self.db.write(|tx| tx.purge_expired(now))
    }

    /// Writes pending usage counts now, and in leased mode gives back what
    /// this store's leases hold unused.
    pub fn flush(&self) -> Result<()> {
        let returned = self.return_leases();
        self.db.flush(&self.usage)?;
        returned
    }

    /// Gives back unused leases, flushes pending usage and closes the
    /// database. Later calls fail with CLOSED. If a write fails, the store
    /// stays open and the error is returned.
    pub fn close(&self) -> Result<()> {
        if let Some(flusher) = &self.flusher {
            // After the flush it may be writing: what is left goes out below.
            flusher.close();
        }
        if let Some(book) = &self.leases {
            // From here on, a renewal still in flight gives its lease
            // straight back (`hold`) instead of keeping it.
            book.close();
        }
        let closed = self.return_leases().and_then(|()| self.db.close(&self.usage));
        if let (Err(_), Some(flusher)) = (&closed, &self.flusher) {
            // The store stays open, and its usage still goes out in the background.
            flusher.reopen(self.flushed());
        }
        closed
    }

    /// What the usage flush thread writes to, and its clock.
    fn flushed(&self) -> flusher::Store<'_> {
        (&self.db, &self.usage, &self.seams.clock)
    }

    /// Gives every lease back to the store; on failure they stay held.
    fn return_leases(&self) -> Result<()> {
        let Some(book) = &self.leases else { return Ok(()) };
        let now = self.now();
        let held = book.drain(now, true);
        lease::give_back(&*self.db, held, now).map_err(|(e, still_held)| {
            book.restore(still_held);
            e
        })
    }

    /// The store's clock (a test clock under the seam).
    pub(crate) fn now(&self) -> Timestamp {
        self.seams.clock.now()
    }

    fn generate(&self, prefix: &str) -> Result<format::GeneratedKey> {
        generate_from(prefix, self.config.secret_bytes, self.config.pepper.as_ref(), &*self.seams.random)
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
        Ok((generated.key, KeyRow::new(info, RowHash::new(generated.hash))))
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

    /// A stored row as callers see it: refills due, pending usage and the
    /// credits this store holds leased applied.
    fn present(&self, mut row: KeyRow, now: Timestamp) -> KeyInfo {
        apply_refill(&mut row.info, now);
        self.usage.overlay(&mut row.info);
        if let (Some(book), Some(r)) = (&self.leases, row.info.remaining) {
            // A key in its grace period shows its replacement's balance.
            let held = match &row.limit_source {
                Some(source) => book.unspent(source, None, now),
                None => book.unspent(&row.info.id, Some(row.limit_epoch), now),
            };
            row.info.remaining = Some(r.saturating_add(held));
        }
        row.info.into_info()
    }

    /// Runs `f`, a write that changes key `id`, on its row (NOT_FOUND if
    /// there is none) with this store's leases on the key given back into
    /// it, so that `f` writes them back with the rest (a roll then carries
    /// their credits to the new key). If `f` fails, they stay held.
    fn write_key<T>(&self, id: &str, now: Timestamp, f: impl FnOnce(&mut dyn Tx, KeyRow) -> Result<T>) -> Result<T> {
        let Some(book) = &self.leases else {
            return self.db.write(|tx| {
                let row = tx.load_existing(id)?;
                f(tx, row)
            });
        };
        let mine = book.take_key(id);
        let result = lease::write_giving_back(&*self.db, |tx| {
            let mut row = tx.load_existing(id)?;
            for lease in &mine {
                lease.give_back(&mut row, now);
            }
            f(tx, row)
        });
        result.map_err(|(e, still_held)| {
            if still_held {
                self.hold(book, id, mine);
            }
            e
        })
    }

    /// Adds leases on `id` to the book, and starts the thread that gives
    /// back idle ones if none runs.
    fn hold(&self, book: &Arc<LeaseBook>, id: &str, leases: impl IntoIterator<Item = lease::Lease>) {
        if book.is_closed() {
            // Closing: best effort, as `close` has given back the rest.
            let held = leases.into_iter().map(|l| (id.to_owned(), l)).collect();
            let _ = lease::give_back(&*self.db, held, self.now());
        } else if book.put(id, leases) {
            lease::start_returner(book, &self.db, self.seams.clock.clone());
        }
    }
}

impl Drop for Keyhouse {
    fn drop(&mut self) {
        // Best effort; `close` reports errors for callers who care.
        if let Some(flusher) = &self.flusher {
            flusher.close();
        }
        if let Some(book) = &self.leases {
            book.close();
        }
        let _ = self.flush();
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Keyhouse>();
}
