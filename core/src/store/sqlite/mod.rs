//! The SQLite backend: connections, SQL, schema and the verify cache.
//!
//! Writes go through one connection behind a mutex; reads, including the
//! lookup of every verify, go through a small pool of read-only
//! connections, which WAL lets run beside the writer and beside other
//! processes. SQLite allows one writer at a time anyway, so a writer pool
//! would only add lock contention.

mod cache;
pub(crate) mod rows;
pub(crate) mod schema;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub(crate) use cache::Lookup;
use cache::{VerifyCache, WalIndex};
pub(crate) use rows::{load, load_existing};

use super::row::KeyRow;
use super::usage::{Pending, UsageBuffer};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::ListOptions;
use crate::Timestamp;

/// The path that opens a store in memory instead of a file.
pub(crate) const MEMORY_PATH: &str = ":memory:";

/// The connections of one store.
pub(crate) struct Sqlite {
    // Declared before the connections, so it is gone before they close: it
    // reads through the writer's mapping of the WAL-index.
    cache: RwLock<Option<VerifyCache>>,
    writer: Mutex<Option<Connection>>,
    readers: Vec<Mutex<Option<Connection>>>,
    next_reader: AtomicUsize,
}

impl Sqlite {
    /// Opens (creating and migrating if needed) the file at `path`, or an
    /// in-memory database for [`MEMORY_PATH`].
    pub(crate) fn open(path: &Path, config: &Config) -> Result<Self> {
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
        Ok(Sqlite {
            cache: RwLock::new(cache),
            writer: Mutex::new(Some(writer)),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Runs `f` on an idle read connection (the writer, in memory).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
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

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed if it succeeds.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut guard = lock(&self.writer);
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// The row for a verify, from the cache when nothing has committed since
    /// it was read. A stale cached row that `stale_ok` accepts is returned
    /// as is: a key about to spend is decided in a write transaction, which
    /// reads it afresh, and reading it twice would double every spend's cost.
    pub(crate) fn lookup(&self, id: &str, stale_ok: impl Fn(&KeyRow) -> bool) -> Result<Lookup> {
        let from_store = || Ok(self.read(|c| load(c, id))?.map(Arc::new));
        {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some(cache) = cache.as_ref() {
                return cache.get_or_load(id, stale_ok, from_store);
            }
        }
        // Without the cache guard: an in-memory store reads through the
        // writer, and `close` holds the writer while it takes the cache.
        Ok(Lookup { found: from_store()?, fresh: true })
    }

    /// How many rows and unknown ids the verify cache holds, if there is one.
    #[cfg(test)]
    pub(crate) fn cache_len(&self) -> Option<(usize, usize)> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(VerifyCache::len)
    }

    /// Drops the verify cache's copy of a key, fresh or not.
    pub(crate) fn forget(&self, id: &str) {
        if let Some(cache) = self.cache.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            cache.forget(id);
        }
    }

    /// Writes the pending usage in `usage` now.
    pub(crate) fn flush(&self, usage: &UsageBuffer) -> Result<()> {
        let mut guard = lock(&self.writer);
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        usage.flush(|batch| write_usage(conn, batch))
    }

    /// Writes the pending usage in `usage`, then closes every connection.
    /// Later calls fail with CLOSED; if the write fails, nothing closes.
    pub(crate) fn close(&self, usage: &UsageBuffer) -> Result<()> {
        let mut guard = lock(&self.writer);
        let Some(conn) = guard.as_mut() else { return Ok(()) };
        usage.flush(|batch| write_usage(conn, batch))?;
        // Unmap before the connections go, while verifies in flight finish.
        self.cache.write().unwrap_or_else(|e| e.into_inner()).take();
        for r in &self.readers {
            lock(r).take();
        }
        guard.take();
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves at worst an open
    // transaction, which the Transaction guard has already rolled back.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds a batch of pending usage to the stored counts, in one transaction.
fn write_usage(conn: &mut Connection, batch: &HashMap<String, Pending>) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut stmt = tx.prepare_cached(
        "UPDATE key_state SET usage_count = usage_count + ?2, \
         last_used_at = max(coalesce(last_used_at, ?3), ?3) WHERE seq = (SELECT seq FROM keys WHERE id = ?1)",
    )?;
    for (id, p) in batch {
        stmt.execute(rusqlite::params![id, i64::try_from(p.count).unwrap_or(i64::MAX), p.last_used_at])?;
    }
    drop(stmt);
    tx.commit()?;
    Ok(())
}

/// One page of keys matching `options` (and one more, to tell whether a
/// next page exists), oldest first, after the cursor position `after`.
pub(crate) fn list(conn: &Connection, options: &ListOptions, after: Option<(i64, String)>) -> Result<Vec<KeyRow>> {
    let mut sql = String::from(concat!(rows::select_keys!(), " WHERE 1 = 1"));
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
    let mut stmt = conn.prepare_cached(&sql)?;
    let limit = i64::from(options.limit) + 1;
    let mut params: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":limit", &limit)];
    if let Some(owner) = &options.owner_id {
        params.push((":owner", owner));
    }
    if let Some((t, id)) = &after {
        params.push((":after_t", t));
        params.push((":after_id", id));
    }
    let mut rows = stmt.query_map(params.as_slice(), KeyRow::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    for row in &mut rows {
        show_shared_balance(conn, row)?;
    }
    Ok(rows)
}

/// Shows on a key in its grace period after a roll the balance it spends:
/// its replacement's, as `get`, `list` and `verify` all do.
pub(crate) fn show_shared_balance(conn: &Connection, row: &mut KeyRow) -> Result<()> {
    if let Some(src) = row.limit_source.as_deref().map(|s| load(conn, s)).transpose()?.flatten() {
        row.show_balance_of(&src);
    }
    Ok(())
}

/// Keys of `owner` that can still verify: neither revoked nor expired.
/// Expired keys do not count towards `max_keys_per_owner`; they stay
/// listed until `purge_expired`, but can never be used again.
pub(crate) fn active_keys(tx: &Transaction<'_>, owner: &str, now: Timestamp) -> Result<u32> {
    let n: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM keys WHERE owner_id = ?1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > ?2)",
        )?
        .query_row(rusqlite::params![owner, now.as_millis()], |r| r.get(0))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Deletes a key (its state row goes with it, by trigger); whether it existed.
pub(crate) fn delete(tx: &Transaction<'_>, id: &str) -> Result<bool> {
    Ok(tx.prepare_cached("DELETE FROM keys WHERE id = ?1")?.execute([id])? > 0)
}

/// Deletes every key expired at `now`; how many.
pub(crate) fn purge_expired(tx: &Transaction<'_>, now: Timestamp) -> Result<u64> {
    let n = tx
        .prepare_cached("DELETE FROM keys WHERE expires_at IS NOT NULL AND expires_at <= ?1")?
        .execute([now.as_millis()])?;
    Ok(n as u64)
}

/// Points every key that spent `old`'s limits at `new`'s instead.
pub(crate) fn relink_limit_source(tx: &Transaction<'_>, old: &str, new: &str) -> Result<()> {
    tx.prepare_cached("UPDATE keys SET limit_source = ?2 WHERE limit_source = ?1")?.execute([old, new])?;
    Ok(())
}

/// Replaces a key's hash with another hash of the same key.
pub(crate) fn rehash(tx: &Transaction<'_>, id: &str, hash: &str) -> Result<()> {
    tx.prepare_cached("UPDATE keys SET hash = ?2 WHERE id = ?1")?.execute([id, hash])?;
    Ok(())
}
