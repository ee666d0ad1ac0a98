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
mod tx;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use cache::{VerifyCache, WalIndex};
use rows::{load, load_logged, read_log};
use tx::{SqliteTx, Written};

use super::backend::{Backend, Found, Lookup, Tx, UsageBatch};
use super::row::KeyRow;
use super::usage::UsageBuffer;
use super::verifying::Spend;
use super::Keyhouse;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::VerifyResult;

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
    /// The connection the verify cache reads the change log through. A
    /// connection drops its whole page cache when it begins reading after
    /// another connection's commit, which costs time in proportion to the
    /// cache's size; the log is a few pages, so this one keeps a tiny cache
    /// and catching up after each commit stays cheap.
    log_reader: Mutex<Option<Connection>>,
    /// Held through a whole usage flush, which takes the writer only for
    /// each of its transactions: `close` waits here for a flush in
    /// progress, whose later chunks would otherwise find the store closed.
    flushing: Mutex<()>,
}

impl Sqlite {
    /// Opens (creating and migrating if needed) the file at `path`, or an
    /// in-memory database for [`MEMORY_PATH`].
    pub(crate) fn open(path: &Path, config: &Config) -> Result<Self> {
        let in_memory = path == Path::new(MEMORY_PATH);
        let mut writer = if in_memory { Connection::open_in_memory()? } else { Connection::open(path)? };
        schema::configure(&writer, config.busy_timeout, true)?;
        schema::migrate(&mut writer, !in_memory, config.busy_timeout)?;
        let open_reader = || -> Result<Connection> {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
            let conn = Connection::open_with_flags(path, flags)?;
            schema::configure(&conn, config.busy_timeout, false)?;
            Ok(conn)
        };
        let readers = if in_memory {
            // Each in-memory connection is its own database, so all go through the writer.
            Vec::new()
        } else {
            let n = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
            (0..n).map(|_| Ok(Mutex::new(Some(open_reader()?)))).collect::<Result<_>>()?
        };
        let log_reader = if in_memory || config.verify_cache_size == 0 {
            None
        } else {
            let conn = open_reader()?;
            conn.pragma_update(None, "cache_size", 16)?;
            Some(conn)
        };
        // SAFETY: the cache is dropped before the writer closes (field order
        // above, and `close` takes it first).
        let cache = if in_memory || config.verify_cache_size == 0 {
            None
        } else {
            unsafe { WalIndex::of(&writer) }.map(|wal| VerifyCache::new(wal, config.verify_cache_size))
        };
        Ok(Sqlite {
            cache: RwLock::new(cache),
            writer: Mutex::new(Some(writer)),
            readers,
            next_reader: AtomicUsize::new(0),
            log_reader: Mutex::new(log_reader),
            flushing: Mutex::new(()),
        })
    }

    /// [`write_usage`], telling the verify cache: usage is not in the
    /// change log, so the cached rows learn of a flush from here.
    fn write_usage_seen(&self, conn: &mut Connection, batch: &UsageBatch) -> Result<()> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let Some(cache) = cache.as_ref() else { return write_usage(conn, batch) };
        let flush = cache.write_begins();
        let written = write_usage(conn, batch);
        cache.flush_ends(flush, written.is_ok().then_some(batch));
        written
    }

    /// Runs `f` on an idle read connection (the writer, in memory).
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
}

impl Backend for Sqlite {
    fn transaction(&self, write: bool, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        if !write {
            // One statement at a time on a reader: each is its own snapshot,
            // which is all `get` and `list` need.
            return self.read(|c| f(&mut SqliteTx(c, Written::default())));
        }
        let mut guard = lock(&self.writer);
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        // Numbered before anything is read, so that verifies reading rows
        // meanwhile do not keep them (see `VerifyCache::get_or_load`).
        let numbered = cache.as_ref().map(|c| (c, c.generation(), c.write_begins()));
        let mut run = || {
            // BEGIN IMMEDIATE takes SQLite's one write lock up front, so
            // every read inside sees the state the writes then change.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut stx = SqliteTx(&tx, Written::default());
            f(&mut stx)?;
            let written = stx.1;
            tx.commit()?;
            Ok(written)
        };
        let done = run();
        if let Some((cache, generation, write)) = numbered {
            cache.write_ends(write, done.as_ref().ok(), generation);
        }
        done.map(drop)
    }

    /// A stale cached row that `stale_ok` accepts is returned as is: a key
    /// about to spend is decided in a write transaction, which reads it
    /// afresh, and reading it twice would double every spend's cost.
    fn lookup(&self, id: &str, stale_ok: &dyn Fn(&KeyRow) -> bool) -> Result<Lookup> {
        let from_store = || -> Result<Found> { Ok(self.read(|c| load(c, id))?.map(Arc::new)) };
        {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some(cache) = cache.as_ref() {
                let read_log =
                    |from, schema| read_log(lock(&self.log_reader).as_ref().ok_or(Error::Closed)?, from, schema);
                let load = |logged: bool| -> Result<(Found, Option<i64>)> {
                    if !logged {
                        return Ok((from_store()?, None));
                    }
                    let (found, at) = self.read(|c| load_logged(c, id))?;
                    Ok((found.map(Arc::new), at))
                };
                return cache.get_or_load(id, stale_ok, read_log, load);
            }
        }
        // Without the cache guard: an in-memory store reads through the
        // writer, and `close` holds the writer while it takes the cache.
        Ok(Lookup { found: from_store()?, fresh: true })
    }

    fn lookup_cached(&self, id: &str, stale_ok: &dyn Fn(&KeyRow) -> bool) -> Option<Lookup> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).as_ref()?.get(id, stale_ok)
    }

    /// SQLite has one writer at a time: the spend is decided inside a write
    /// transaction, on the state it reads there.
    fn spend(&self, kh: &Keyhouse, spend: Spend<'_>) -> Result<VerifyResult> {
        (self as &dyn Backend).write(|tx| kh.consume_in(tx, spend, None))
    }

    #[cfg(test)]
    fn cache_len(&self) -> Option<(usize, usize)> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(VerifyCache::len)
    }

    fn forget(&self, id: &str) {
        if let Some(cache) = self.cache.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            cache.forget(id);
        }
    }

    /// Takes the writer for each transaction of the flush only, so that
    /// this process's other writes go in between.
    fn flush(&self, usage: &UsageBuffer) -> Result<()> {
        let _flushing = lock(&self.flushing);
        usage.flush(true, |batch| {
            let mut guard = lock(&self.writer);
            self.write_usage_seen(guard.as_mut().ok_or(Error::Closed)?, batch)
        })
    }

    fn close(&self, usage: &UsageBuffer) -> Result<()> {
        let _flushing = lock(&self.flushing);
        let mut guard = lock(&self.writer);
        let Some(conn) = guard.as_mut() else { return Ok(()) };
        // Through the cache too: if a later transaction fails, the store
        // stays open, and its cached rows must hold what did commit.
        usage.flush(true, |batch| self.write_usage_seen(conn, batch))?;
        // Unmap before the connections go, while verifies in flight finish.
        self.cache.write().unwrap_or_else(|e| e.into_inner()).take();
        for r in self.readers.iter().chain([&self.log_reader]) {
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

/// Adds a key's pending usage (?2 uses, the latest at ?3) to the
/// `key_state` row that `$where` picks; one text for both lookups of
/// `write_usage`, so that they cannot come to add differently.
macro_rules! add_usage_where {
    ($where:literal) => {
        concat!(
            "UPDATE key_state SET usage_count = usage_count + ?2, ",
            "last_used_at = max(coalesce(last_used_at, ?3), ?3) WHERE ",
            $where
        )
    };
}
/// At the row number it was last read under (?4), if that row still holds
/// its id (?1).
const USAGE_BY_SEQ: &str = add_usage_where!("seq = ?4 AND (SELECT id FROM keys WHERE seq = ?4) = ?1");
/// At the row its id (?1) names now.
const USAGE_BY_ID: &str = add_usage_where!("seq = (SELECT seq FROM keys WHERE id = ?1)");

/// Adds a batch of pending usage to the stored counts, in one transaction.
///
/// Each key is found by the row number it was last read under, checked
/// against its id: a batch comes in row order, so those lookups walk
/// `keys` and `key_state` page by page, where a lookup by id would descend
/// the id index at a random place for every key (most of a large flush's
/// time). A key whose row number no longer holds its id (deleted, or
/// stored again under a new number) is then found by id, which is the
/// key's identity, as before; so is one whose `key_state` row is missing,
/// which neither statement finds.
fn write_usage(conn: &mut Connection, batch: &UsageBatch) -> Result<()> {
    debug_assert!(batch.windows(2).all(|w| w[0].1.seq <= w[1].1.seq), "a batch comes in row order");
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut by_seq = tx.prepare_cached(USAGE_BY_SEQ)?;
    let mut by_id = tx.prepare_cached(USAGE_BY_ID)?;
    for (id, p) in batch {
        let count = i64::try_from(p.count).unwrap_or(i64::MAX);
        if by_seq.execute(rusqlite::params![id.as_str(), count, p.last_used_at, p.seq])? == 0 {
            by_id.execute(rusqlite::params![id.as_str(), count, p.last_used_at])?;
        }
    }
    drop((by_seq, by_id));
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, StatementStatus};

    use super::{write_usage, USAGE_BY_ID, USAGE_BY_SEQ};
    use crate::store::id::Id;
    use crate::store::usage::Pending;
    use crate::store::verifying::tests::{done, file_store};
    use crate::CreateOptions;

    /// Both lookups give the same counts (`core/tests/store.rs` checks
    /// those), so only how often each statement ran shows that the one by
    /// row number is taken whenever it can be, and the one by id only when
    /// the row number no longer holds the key.
    #[test]
    fn a_usage_write_looks_up_by_id_only_the_keys_whose_row_number_does_not_hold_them() {
        let (dir, kh) = file_store("usage-by-seq");
        let made = kh.create_many(vec![CreateOptions::default(); 3]).unwrap();
        kh.close().unwrap();
        let mut conn = Connection::open(dir.join("k.db")).unwrap();
        let id = |i: usize| Id::new(&made[i].info.id);
        let seq = |conn: &Connection, i: usize| -> i64 {
            conn.query_row("SELECT seq FROM keys WHERE id = ?1", [&made[i].info.id], |r| r.get(0)).unwrap()
        };
        let (s0, s1, s2) = (seq(&conn, 0), seq(&conn, 1), seq(&conn, 2));
        let pending = |count, seq| Pending { count, last_used_at: 7, seq };
        // An id no key has; key 0 and key 1 where they are; key 2 under key
        // 0's row number (renumbered since it was read).
        let mut batch = vec![
            (Id::new("nobody"), pending(9, 0)),
            (id(0), pending(2, s0)),
            (id(2), pending(5, s0)),
            (id(1), pending(3, s1)),
        ];
        batch.sort_by_key(|(_, p)| p.seq);
        write_usage(&mut conn, &batch).unwrap();
        let runs = |sql| conn.prepare_cached(sql).unwrap().get_status(StatementStatus::Run);
        assert_eq!((runs(USAGE_BY_SEQ), runs(USAGE_BY_ID)), (4, 2));
        let stored = |s: i64| -> i64 {
            conn.query_row("SELECT usage_count FROM key_state WHERE seq = ?1", [s], |r| r.get(0)).unwrap()
        };
        assert_eq!((stored(s0), stored(s1), stored(s2)), (2, 3, 5));
        drop(conn);
        done(dir, kh);
    }
}
