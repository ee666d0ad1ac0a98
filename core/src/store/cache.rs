//! A verify cache that is never stale: rows are served from memory only
//! while no transaction has committed since they were read.
//!
//! In WAL mode every commit, by any connection in any process, publishes
//! itself by rewriting the WAL-index header at the start of the `-shm` file
//! (its change counter, frame count and salts). SQLite's own readers decide
//! whether their page cache is still valid the same way: read the header's
//! two copies lock-free and compare. Here a row is cached together with the
//! header seen *before* it was read; while the header is unchanged, nothing
//! has committed since, so the row is exactly what a fresh read would
//! return. Any change (a revoke from another process included) misses.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{fence, Ordering};
use std::sync::Mutex;

use memmap2::{Mmap, MmapOptions};

use crate::store::rows::KeyRow;

/// The WAL-index header: 48 bytes, stored twice (see SQLite's walformat).
const HEADER_WORDS: usize = 12;
/// Past this many rows the cache starts over; a verify-heavy service keeps
/// its hot keys, and memory stays bounded.
const MAX_ROWS: usize = 20_000;

type Header = [u32; HEADER_WORDS];

/// Read-only view of the WAL-index header of one database file.
pub(crate) struct ShmHeader {
    map: Mmap,
}

impl ShmHeader {
    /// Maps `<db>-shm`, which exists while any connection to a WAL database
    /// is open. `None` if it cannot be mapped; the store then reads every time.
    pub(crate) fn open(db: &Path) -> Option<Self> {
        let mut shm = db.as_os_str().to_owned();
        shm.push("-shm");
        let file = File::open(Path::new(&shm)).ok()?;
        if file.metadata().ok()?.len() < (2 * HEADER_WORDS * 4) as u64 {
            return None;
        }
        // SAFETY: the mapping is read-only and only read through volatile
        // loads. SQLite never shrinks the -shm file while a connection (ours
        // stays open as long as this map) holds the database open.
        let map = unsafe { MmapOptions::new().len(2 * HEADER_WORDS * 4).map(&file) }.ok()?;
        Some(ShmHeader { map })
    }

    /// The current header, or `None` while a writer is updating it (or
    /// before SQLite has set it up).
    pub(crate) fn read(&self) -> Option<Header> {
        let p = self.map.as_ptr().cast::<u32>();
        let mut first = [0u32; HEADER_WORDS];
        let mut second = [0u32; HEADER_WORDS];
        // Writers update the second copy, then the first; reading the first,
        // then the second, and comparing catches any update in between.
        for (i, w) in first.iter_mut().enumerate() {
            // SAFETY: within the mapped length; the pointer is page-aligned.
            *w = unsafe { p.add(i).read_volatile() };
        }
        fence(Ordering::Acquire);
        for (i, w) in second.iter_mut().enumerate() {
            // SAFETY: as above.
            *w = unsafe { p.add(HEADER_WORDS + i).read_volatile() };
        }
        // Word 3 holds isInit and the page size: zero means "not set up yet".
        (first == second && first[3] != 0).then_some(first)
    }
}

/// Rows recently read by verify, each with the header seen before its read.
pub(crate) struct VerifyCache {
    shm: ShmHeader,
    rows: Mutex<HashMap<String, (Header, KeyRow)>>,
}

impl VerifyCache {
    pub(crate) fn new(shm: ShmHeader) -> Self {
        VerifyCache { shm, rows: Mutex::new(HashMap::new()) }
    }

    /// Reads the row with `id`: from memory if nothing has committed since it
    /// was cached, otherwise through `load` (whose result is then cached).
    pub(crate) fn get_or_load<E>(
        &self,
        id: &str,
        load: impl FnOnce() -> Result<Option<KeyRow>, E>,
    ) -> Result<Option<KeyRow>, E> {
        let Some(before) = self.shm.read() else { return load() };
        if let Some((seen, row)) = self.lock().get(id) {
            if *seen == before {
                return Ok(Some(row.clone()));
            }
        }
        let row = load()?;
        if let Some(row) = &row {
            let mut rows = self.lock();
            if rows.len() >= MAX_ROWS {
                rows.clear();
            }
            rows.insert(id.to_owned(), (before, row.clone()));
        }
        Ok(row)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Header, KeyRow)>> {
        // Only cached copies live here; a panic elsewhere cannot corrupt them.
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }
}
