//! Copying every key from one store to another: how a service that has
//! outgrown one machine moves from SQLite to PostgreSQL.

use super::Keyhouse;
use crate::error::Result;
use crate::model::ListOptions;

/// Keys read and written per transaction.
const PAGE: u32 = 1000;

/// What [`Keyhouse::copy_into`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Keys written to the destination.
    pub copied: u64,
    /// Keys the destination already held (by id), left as they are there.
    pub skipped: u64,
}

impl Keyhouse {
    /// Copies every key of this store into `to`: its id, hash, settings,
    /// credits, refill and rate-limit state, usage and timestamps, revoked
    /// and expired keys included. Keys keep working in `to` with the same
    /// plaintext.
    ///
    /// A key whose id `to` already holds is left as it is there, so running
    /// the copy again adds only keys created since, and never duplicates or
    /// resets one. Pending usage here is written first. Each page of keys
    /// is one transaction on `to`: a failed copy leaves whole pages, and a
    /// re-run completes it.
    pub fn copy_into(&self, to: &Keyhouse) -> Result<CopyReport> {
        self.flush()?;
        let mut report = CopyReport::default();
        let mut after = None;
        loop {
            let options = ListOptions { limit: PAGE, include_revoked: true, ..ListOptions::default() };
            let mut rows = self.db.read(|tx| tx.list(&options, after.clone()))?;
            let more = rows.len() > PAGE as usize;
            rows.truncate(PAGE as usize);
            let Some(last) = rows.last() else { break };
            after = Some((last.info.created_at.as_millis(), last.info.id.clone()));
            let page: Vec<_> = rows.iter().collect();
            let copied = to.db.write(|tx| tx.insert_many(&page, true))?;
            report.copied += copied;
            report.skipped += rows.len() as u64 - copied;
            if !more {
                break;
            }
        }
        Ok(report)
    }
}
