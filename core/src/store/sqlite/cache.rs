//! A verify cache that never answers from an outdated key: a row is served
//! from memory only while no change to its key has been logged since it
//! was read.
//!
//! Every change to `keys`, by any connection in any process, the sqlite3
//! shell included, writes the key's id to the change log `key_changes` in
//! the same transaction (triggers, see `schema`). To catch up, the cache
//! reads the log from the last entry it saw and drops the rows it names; if
//! the log no longer continues from that entry, or the schema changed and a
//! trigger is missing, it drops every row.
//!
//! Catching up costs a query, so it is done only when something has
//! committed since the last time. In WAL mode every commit publishes itself
//! by rewriting the WAL-index header (its change counter, frame count,
//! checksums and salts). SQLite's own readers decide whether their page
//! cache is still valid the same way: read the header's two copies without
//! a lock and compare them with the copy seen last time (`walIndexTryHdr`;
//! the header is laid out in SQLite's "WAL-mode File Format" document,
//! section 2.1). The cache keeps the header read just before its last
//! catch-up; while the header is unchanged, nothing has committed since,
//! so every cached row is exactly what a fresh read would return.
//!
//! What verify changes (usage, credits, rate-limit state) lives in
//! `key_state` and is not logged. Credits and rate limits are decided on a
//! fresh read in a write transaction, whatever the cache holds. This
//! process's own flushes and write transactions update the cached rows
//! (`flush_ends`, `write_ends`); usage flushed by other processes shows in
//! a cached row only once the row is read again, as on PostgreSQL.
//!
//! The header is read through SQLite's own mapping of the WAL-index, which
//! its VFS hands out through `xShmMap` (see [`WalIndex::of`]). Keyhouse
//! never opens, maps or closes SQLite's files itself: on POSIX systems,
//! closing any descriptor of a file drops every lock the process holds on
//! it, SQLite's included ("How To Corrupt An SQLite Database File", 2.2).
//!
//! Freshness is also why the header can be trusted across processes: the
//! connection that lends the mapping stays open, so it holds SQLite's
//! "dead-man switch" lock on the WAL-index for as long as the cache exists.
//! No later opener can then believe it is alone and rebuild the WAL-index
//! from scratch (which could recreate an old header after a checkpoint).

use std::ffi::c_void;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{ffi, Connection};

use crate::store::backend::{Found, Lookup, UsageBatch};
use crate::store::clock::Clock;
use crate::store::row::KeyRow;
use crate::store::sqlite::tx::Written;
use crate::store::usage;
use crate::store::verifying::same_secret;
use crate::store::writes::{Writes, Writing};

/// The WAL-index header: 48 bytes, stored twice (walformat, section 2.1).
const HEADER_WORDS: usize = 12;
/// The size of one WAL-index region; SQLite maps the WAL-index in regions of
/// exactly this size and its VFS refuses any other (walformat, section 2).
const WAL_INDEX_REGION: i32 = 32 * 1024;
/// Unknown ids kept at most (each costs about 100 bytes). They have a bound
/// of their own, so a flood of made-up ids cannot push real rows out.
const MAX_MISSES: usize = 20_000;

type Header = [u32; HEADER_WORDS];

/// Read-only view of the WAL-index header of one database, through the
/// mapping SQLite made for one of its connections.
pub(crate) struct WalIndex {
    header: *const u32,
}

// SAFETY: the pointer is only read, with volatile loads, and the memory is
// shared by design (other processes write it while we read it).
unsafe impl Send for WalIndex {}
unsafe impl Sync for WalIndex {}

impl WalIndex {
    /// SQLite's mapping of the WAL-index of `conn`'s main database, if it is
    /// in WAL mode and has one. `None` means: read every time.
    ///
    /// # Safety
    /// The result must be dropped before `conn` is closed: the mapping
    /// belongs to SQLite and lives as long as the connection's WAL.
    pub(crate) unsafe fn of(conn: &Connection) -> Option<Self> {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SQLITE_FCNTL_FILE_POINTER is SQLite's documented way to reach the
        // sqlite3_file of a database; xShmMap is the VFS method SQLite's WAL
        // code itself calls to map the WAL-index. For a region that is
        // already mapped (the connection has read the database in WAL mode,
        // which `migrate` did), the unix VFS returns the existing mapping
        // and takes no lock, opens no file and changes no reference count.
        let rc = ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&mut file as *mut *mut ffi::sqlite3_file).cast::<c_void>(),
        );
        if rc != ffi::SQLITE_OK || file.is_null() || (*file).pMethods.is_null() {
            return None;
        }
        let methods = &*(*file).pMethods;
        // xShmMap exists from version 2 of the I/O methods on.
        let map = if methods.iVersion >= 2 { methods.xShmMap? } else { return None };
        let mut region: *mut c_void = std::ptr::null_mut();
        // bExtend = 0: never create the region; it exists once WAL is set up.
        let rc = map(file, 0, WAL_INDEX_REGION, 0, (&mut region as *mut *mut c_void).cast());
        if rc != ffi::SQLITE_OK || region.is_null() {
            return None;
        }
        Some(WalIndex { header: region.cast::<u32>() })
    }

    /// The current header, or `None` while a writer is updating it (or
    /// before SQLite has set it up).
    pub(crate) fn read(&self) -> Option<Header> {
        let mut first = [0u32; HEADER_WORDS];
        let mut second = [0u32; HEADER_WORDS];
        // Writers update the second copy, then the first; reading the first,
        // then the second, and comparing catches any update in between, as
        // SQLite's readers do.
        for (i, w) in first.iter_mut().enumerate() {
            // SAFETY: within region 0 (32 KiB), which SQLite keeps mapped
            // while the connection lives; the pointer is page-aligned.
            *w = unsafe { self.header.add(i).read_volatile() };
        }
        fence(Ordering::Acquire);
        for (i, w) in second.iter_mut().enumerate() {
            // SAFETY: as above.
            *w = unsafe { self.header.add(HEADER_WORDS + i).read_volatile() };
        }
        // Word 3 holds isInit and the page size: zero means "not set up yet".
        (first == second && first[3] != 0).then_some(first)
    }
}

/// One entry of the change log (`key_changes`, schema version 5).
pub(crate) struct Change {
    /// The entry's position in the log.
    pub n: i64,
    /// The id of the key that changed.
    pub id: String,
    /// A random number written with the entry.
    pub tag: i64,
}

/// What a catch-up reads (`rows::read_log`).
pub(crate) struct LogRead {
    /// `PRAGMA schema_version`: it changes whenever a trigger is dropped.
    pub schema: i64,
    /// Whether every trigger that writes the log exists; `None` when the
    /// schema version is the one the cache already knows.
    pub triggers: Option<bool>,
    /// The log's entries from the position asked for on, in order.
    pub changes: Vec<Change>,
}

/// What the cache last caught up with.
struct Synced {
    /// The WAL-index header read just before the log was: while the header
    /// is still this, nothing has committed since.
    header: Header,
    /// The schema version then, and whether the log's triggers were all there.
    schema: i64,
    logged: bool,
    /// The newest log entry then (`n`, `tag`); `None` if the log was empty.
    last: Option<(i64, i64)>,
}

/// Rows read by verify (and ids found unknown), kept while no logged change
/// names them.
pub(crate) struct VerifyCache {
    wal: WalIndex,
    /// Each row with the number of this process's writes it holds (see
    /// `write_begins`).
    rows: Mutex<Clock<u64>>,
    misses: Mutex<Clock<()>>,
    /// Held while catching up, so that catch-ups apply in order.
    synced: Mutex<Option<Synced>>,
    /// The header of `synced`, under a lock of its own that is never held
    /// across a query: verifies compare it without waiting for a catch-up.
    current: Mutex<Option<Header>>,
    /// Bumped before every invalidation, so a row read while one ran is not
    /// kept: the invalidation may have passed over its id already.
    generation: AtomicU64,
    /// This process's write transactions and usage flushes. They run one
    /// at a time, under the writer lock.
    writes: Writes,
}

impl VerifyCache {
    /// A cache of at most `size` rows (`Config::verify_cache_size`).
    pub(crate) fn new(wal: WalIndex, size: u32) -> Self {
        VerifyCache {
            wal,
            rows: Mutex::new(Clock::new(size as usize)),
            misses: Mutex::new(Clock::new(MAX_MISSES)),
            synced: Mutex::new(None),
            current: Mutex::new(None),
            generation: AtomicU64::new(0),
            writes: Writes::default(),
        }
    }

    /// Reads the row with `id`: from memory if no change to it has been
    /// logged since it was read, otherwise through `load` (whose answer is
    /// then kept, row or none). `read_log(n, schema)` reads the log from
    /// position `n` on (`rows::read_log`); `load(true)` returns the row and
    /// the log's newest position, read in one statement, and `load(false)`
    /// the row alone, when the log cannot be read.
    ///
    /// When something has committed since the last catch-up and a cached
    /// row that `stale_ok` accepts is at hand, that row is returned as is,
    /// marked stale, without catching up: for callers that use it only to
    /// choose a path which reads the row afresh anyway.
    pub(crate) fn get_or_load<E>(
        &self,
        id: &str,
        stale_ok: impl Fn(&KeyRow) -> bool,
        read_log: impl FnOnce(i64, Option<i64>) -> Result<LogRead, E>,
        load: impl FnOnce(bool) -> Result<(Found, Option<i64>), E>,
    ) -> Result<Lookup, E> {
        if let Some(hit) = self.get(id, &stale_ok) {
            return Ok(hit);
        }
        let Some(last) = self.catch_up(read_log) else { return Ok(Lookup { found: load(false)?.0, fresh: true }) };
        if let Some(hit) = self.get(id, |_| false) {
            return Ok(hit);
        }
        // Read before the load, so that a catch-up that starts meanwhile is
        // noticed, and so is a write of this process: a row read while one
        // ran may or may not hold it, so it is not kept.
        let generation = self.generation.load(Ordering::Acquire);
        let writes = self.writes.snapshot();
        let (found, at) = load(true)?;
        // Asked under the lock of the map the answer goes into.
        let keep = || self.generation.load(Ordering::Acquire) == generation && self.writes.none_since(writes);
        match &found {
            // Kept only if no key changed between the catch-up and the load:
            // a row newer than the log position this cache is at could
            // outlive a backup restored to that position.
            Some(_) if at == last => {
                let mut rows = lock(&self.rows);
                if keep() {
                    rows.put(id, writes, found.clone());
                }
            }
            Some(_) => {}
            None => {
                let mut misses = lock(&self.misses);
                if keep() {
                    misses.put(id, (), None);
                }
            }
        }
        Ok(Lookup { found, fresh: true })
    }

    /// The cached answer for `id`, if there is one that may be used now:
    /// fresh while nothing has committed since the last catch-up, else a
    /// row that `stale_ok` accepts, marked stale.
    pub(crate) fn get(&self, id: &str, stale_ok: impl Fn(&KeyRow) -> bool) -> Option<Lookup> {
        let now = self.wal.read()?;
        let current = *lock_header(&self.current) == Some(now);
        let mut rows = lock(&self.rows);
        if current {
            if let Some(found) = rows.get_any(id) {
                return Some(Lookup { found: found.clone(), fresh: true });
            }
            drop(rows);
            return lock(&self.misses).get_any(id).map(|_| Lookup { found: None, fresh: true });
        }
        let found = rows.get_any(id).filter(|f| f.as_deref().is_some_and(&stale_ok))?;
        Some(Lookup { found: found.clone(), fresh: false })
    }

    /// Brings the cache up to date with every commit before now: drops the
    /// rows of keys logged as changed since the last catch-up, or every row
    /// if the log no longer continues from the entry seen then (pruned past
    /// it, emptied, or replaced by a restored backup), if the schema
    /// changed, or if a trigger that writes the log is missing (then every
    /// commit drops every row).
    ///
    /// Returns the log position caught up with, or `None` when nothing may
    /// be served from memory or kept: the WAL-index header cannot be read at
    /// the moment (a writer is updating it), or the log could not be read
    /// (then everything is dropped, and the load that follows says what is
    /// wrong with the store, if anything).
    fn catch_up<E>(&self, read_log: impl FnOnce(i64, Option<i64>) -> Result<LogRead, E>) -> Option<Option<i64>> {
        let mut synced = lock_synced(&self.synced);
        // Read under the lock, after any catch-up that ran before: the log
        // read below is at least this new, so once it is applied, this
        // header vouches for everything cached.
        let now = self.wal.read()?;
        if let Some(s) = synced.as_ref().filter(|s| s.header == now) {
            return Some(s.last.map(|(n, _)| n));
        }
        let last = synced.as_ref().and_then(|s| s.last);
        let known_schema = synced.as_ref().map(|s| s.schema);
        let read = read_log(last.map_or(i64::MIN, |(n, _)| n), known_schema);
        self.generation.fetch_add(1, Ordering::AcqRel);
        let (mut rows, mut misses) = (lock(&self.rows), lock(&self.misses));
        let Ok(read) = read else {
            rows.clear();
            misses.clear();
            *synced = None;
            *lock_header(&self.current) = None;
            return None;
        };
        let logged = read.triggers.unwrap_or_else(|| synced.as_ref().is_some_and(|s| s.logged));
        let continues = logged
            && known_schema == Some(read.schema)
            && matches!((last, read.changes.first()), (Some((n, tag)), Some(first)) if first.n == n && first.tag == tag);
        // New keys are not logged, so every commit may have created a key
        // that was unknown before.
        misses.clear();
        if continues {
            for change in &read.changes[1..] {
                rows.remove(&change.id);
            }
        } else {
            rows.clear();
        }
        let last = read.changes.last().map(|c| (c.n, c.tag));
        *synced = Some(Synced { header: now, schema: read.schema, logged, last });
        *lock_header(&self.current) = Some(now);
        Some(last.map(|(n, _)| n))
    }

    /// Call before a write transaction or usage flush of this process
    /// begins (under the writer lock); end it with
    /// [`VerifyCache::flush_ends`] or [`VerifyCache::write_ends`] (see
    /// [`Writes::begin`] for one that panics instead).
    pub(crate) fn write_begins(&self) -> Write<'_> {
        self.writes.begin(&self.rows)
    }

    /// Ends the usage flush `write`. With the `batch` it committed, adds
    /// those counts to the cached rows, which were all read before it began
    /// and do not hold them (usage is not logged, so the rows stay cached).
    pub(crate) fn flush_ends(&self, ending: Write<'_>, committed: Option<&UsageBatch>) {
        let write = ending.number();
        let mut rows = lock(&self.rows);
        for (id, p) in committed.into_iter().flatten() {
            match rows.entry_mut(id.as_str()) {
                // Never kept by `get_or_load`; here only in case that changes.
                Some((&mut held, _)) if held >= write => rows.remove(id.as_str()),
                Some((held, Some(row))) => {
                    *held = write;
                    usage::apply(&mut Arc::make_mut(row).info, *p);
                }
                _ => {}
            }
        }
        ending.end();
    }

    /// The invalidation count now; pass it to `write_ends` later.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Ends the write transaction `write`. With what it committed to
    /// `key_state` (spends, leases), which the change log does not record
    /// but for what decides a verify's path, the cached rows of those keys
    /// take that state, which is the stored state now. Only that state: the
    /// rest of a row stays as the log vouches for it. If an invalidation
    /// ran since `generation` (read before the transaction began), it may
    /// have passed over these keys already, so they are dropped instead; so
    /// is a key whose secret changed, and one of which only the usage was
    /// written (during a roll's grace period, shown with another key's
    /// balance).
    pub(crate) fn write_ends(&self, ending: Write<'_>, committed: Option<&Written>, generation: u64) {
        let write = ending.number();
        let current = self.generation.load(Ordering::Acquire) == generation;
        let mut rows = lock(&self.rows);
        if let Some(written) = committed {
            for row in &written.states {
                match rows.entry_mut(&row.info.id) {
                    Some((held, Some(cached))) if current && same_secret(cached, row) => {
                        *held = write;
                        Arc::make_mut(cached).take_state(row);
                    }
                    Some(_) => rows.remove(&row.info.id),
                    None => {}
                }
            }
            for id in &written.usage {
                rows.remove(id);
            }
        }
        ending.end();
    }

    /// Drops the row of a key this store changed or deleted, so that it is
    /// read afresh (the change log would also drop it, at the next catch-up).
    pub(crate) fn forget(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        lock(&self.rows).remove(id);
        lock(&self.misses).remove(id);
    }

    /// How many rows and unknown ids are held (for tests and benchmarks).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn len(&self) -> (usize, usize) {
        (lock(&self.rows).len(), lock(&self.misses).len())
    }
}

/// A write transaction or usage flush of this process, begun and not yet
/// ended (see [`VerifyCache::write_begins`]).
pub(crate) type Write<'a> = Writing<'a, u64>;

fn lock<S>(m: &Mutex<Clock<S>>) -> std::sync::MutexGuard<'_, Clock<S>> {
    // Only cached copies live here; a panic elsewhere cannot corrupt them.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_synced(m: &Mutex<Option<Synced>>) -> std::sync::MutexGuard<'_, Option<Synced>> {
    // Replaced whole, never left half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_header(m: &Mutex<Option<Header>>) -> std::sync::MutexGuard<'_, Option<Header>> {
    // Replaced whole, never left half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
