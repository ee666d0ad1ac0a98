//! A verify cache that is never stale: rows are served from memory only
//! while no transaction has committed since they were read.
//!
//! In WAL mode every commit, by any connection in any process, publishes
//! itself by rewriting the WAL-index header (its change counter, frame
//! count, checksums and salts). SQLite's own readers decide whether their
//! page cache is still valid the same way: read the header's two copies
//! without a lock and compare them with the copy seen last time
//! (`walIndexTryHdr`; the header is laid out in SQLite's "WAL-mode File
//! Format" document, section 2.1). Here a row is cached together with the
//! header seen *before* it was read; while the header is unchanged, nothing
//! has committed since, so the row is exactly what a fresh read would
//! return. Any change, a revoke from another process included, misses.
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
use std::sync::atomic::{fence, Ordering};
use std::sync::Mutex;

use rusqlite::{ffi, Connection};

use crate::store::backend::{Found, Lookup};
use crate::store::clock::Clock;
use crate::store::row::KeyRow;

/// The WAL-index header: 48 bytes, stored twice (walformat, section 2.1).
const HEADER_WORDS: usize = 12;
/// The size of one WAL-index region; SQLite maps the WAL-index in regions of
/// exactly this size and its VFS refuses any other (walformat, section 2).
const WAL_INDEX_REGION: i32 = 32 * 1024;
/// Rows kept at most. A default key costs about 600 bytes here, so the cache
/// stays under ~60 MB however many keys the store holds.
const MAX_ROWS: usize = 100_000;
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

/// Rows recently read by verify (and ids found unknown), each with the
/// header seen before its read.
pub(crate) struct VerifyCache {
    wal: WalIndex,
    rows: Mutex<Clock<Header>>,
    misses: Mutex<Clock<Header>>,
}

impl VerifyCache {
    pub(crate) fn new(wal: WalIndex) -> Self {
        VerifyCache { wal, rows: Mutex::new(Clock::new(MAX_ROWS)), misses: Mutex::new(Clock::new(MAX_MISSES)) }
    }

    /// Reads the row with `id`: from memory if nothing has committed since it
    /// was cached, otherwise through `load` (whose result is then cached,
    /// whether a row or none).
    ///
    /// A cached row that is no longer fresh is returned as is, marked stale,
    /// when `stale_ok` accepts it: for callers that use it only to choose a
    /// path which reads the row afresh anyway.
    pub(crate) fn get_or_load<E>(
        &self,
        id: &str,
        stale_ok: impl Fn(&KeyRow) -> bool,
        load: impl FnOnce() -> Result<Found, E>,
    ) -> Result<Lookup, E> {
        let Some(before) = self.wal.read() else { return Ok(Lookup { found: load()?, fresh: true }) };
        if let Some(hit) = self.get_at(id, &before, &stale_ok) {
            return Ok(hit);
        }
        let found = load()?;
        match &found {
            Some(_) => lock(&self.rows).put(id, before, found.clone()),
            None => lock(&self.misses).put(id, before, None),
        }
        Ok(Lookup { found, fresh: true })
    }

    /// The cached answer for `id`, if there is one that may be used now.
    pub(crate) fn get(&self, id: &str, stale_ok: impl Fn(&KeyRow) -> bool) -> Option<Lookup> {
        self.get_at(id, &self.wal.read()?, &stale_ok)
    }

    fn get_at(&self, id: &str, now: &Header, stale_ok: &impl Fn(&KeyRow) -> bool) -> Option<Lookup> {
        if let Some((found, fresh)) = lock(&self.rows).get(id, now, |f| f.as_deref().is_some_and(stale_ok)) {
            return Some(Lookup { found: found.clone(), fresh });
        }
        lock(&self.misses).get(id, now, |_| false).map(|_| Lookup { found: None, fresh: true })
    }

    /// Drops the row of a key this store deleted: it can never be served
    /// again (the commit changed the header), so it would only hold memory
    /// until evicted.
    pub(crate) fn forget(&self, id: &str) {
        lock(&self.rows).remove(id);
    }

    /// How many rows and unknown ids are held (for tests and benchmarks).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn len(&self) -> (usize, usize) {
        (lock(&self.rows).len(), lock(&self.misses).len())
    }
}

fn lock(m: &Mutex<Clock<Header>>) -> std::sync::MutexGuard<'_, Clock<Header>> {
    // Only cached copies live here; a panic elsewhere cannot corrupt them.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
