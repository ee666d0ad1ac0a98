//! The leased path of verify (`Config::lease_size`): answer from this
//! store's lease on the key when it can, and otherwise renew the lease in
//! one write that also decides the request exactly (see `lease`).

use std::sync::Arc;
use std::time::Instant;

use super::lease::{write_giving_back, Lease, LeaseBook, Renewal, Taken};
use super::row::KeyRow;
use super::verifying::{same_secret, Asked, Spend};
use super::Keyhouse;
use crate::error::Result;
use crate::model::VerifyResult;
use crate::verify::{has_limits, status_outcome};
use crate::Timestamp;

impl Keyhouse {
    /// Verifies, in leased mode, a key with limits whose secret and status
    /// `row` proved. `row` is what the cache holds as current (on SQLite,
    /// nothing has committed since it was read; on PostgreSQL, within
    /// `max_staleness`), so its status and limit epoch show a revoke or an
    /// update as a cached verify of a plain key does. `None` when `io` is
    /// false and the store must be asked.
    pub(crate) fn verify_leased(
        &self,
        book: &Arc<LeaseBook>,
        mut row: KeyRow,
        new_hash: Option<String>,
        asked: Asked<'_>,
        mut now: Timestamp,
        io: bool,
    ) -> Result<Option<VerifyResult>> {
        let id = row.info.id.clone();
        // All waits for other threads' renewals together stay within one
        // busy_timeout, as a wait for SQLite's write lock does.
        let deadline = Instant::now() + self.config.busy_timeout;
        loop {
            // A hash to upgrade goes through the renewal's write, so that a
            // failed write never costs a leased credit.
            let taken = if new_hash.is_some() { Taken::Renew } else { book.take(&row, now, asked.cost) };
            match taken {
                Taken::Admitted { rate_limit, remaining, last_refill_at } => {
                    if remaining.is_some() {
                        row.info.remaining = remaining;
                        row.info.last_refill_at = last_refill_at;
                    }
                    let mut result = self.admit(row.info.into_info(), row.seq, None, None, now, io)?;
                    result.rate_limit = rate_limit;
                    return Ok(Some(result));
                }
                Taken::Refused { outcome, retry_after, rate_limit } => {
                    let mut result = self.refused(row, outcome, now);
                    result.retry_after = retry_after;
                    result.rate_limit = rate_limit;
                    return Ok(Some(result));
                }
                Taken::Renew if !io => return Ok(None),
                Taken::Renew => {}
            }
            let spend = Spend {
                key: asked.key,
                prefix: asked.prefix,
                proved: &row,
                new_hash: new_hash.clone(),
                required_permissions: asked.required_permissions,
                cost: asked.cost,
                now,
            };
            if let Some(returning) = book.start_renewal(&id) {
                return self.renew_with(book, &id, returning, spend).map(Some);
            }
            // Another thread is renewing this key: its lease (or its
            // refusal) will most likely serve this request too, which saves
            // a write and keeps the store to one lease. A rehash cannot be
            // served from a lease, nor can anything once the deadline passed.
            if new_hash.is_some() || !book.wait_for_renewal(&id, deadline) {
                return self.db.spend(self, spend).map(Some);
            }
            // Time has passed: decide on the row as it is now.
            now = self.now();
            let current = self.db.lookup(&id, &|_| false)?.found;
            match current {
                Some(c) if same_secret(&c, &row) && c.limit_source.is_none() && has_limits(&c) => {
                    row = Arc::unwrap_or_clone(c);
                }
                // Deleted, re-hashed, rolled or its limits removed meanwhile:
                // the exact path handles each.
                _ => return self.db.spend(self, Spend { now, ..spend }).map(Some),
            }
            if let Some(outcome) = status_outcome(&row.info, now, asked.required_permissions) {
                return Ok(Some(self.refused(row, outcome, now)));
            }
        }
    }

    /// The exact spend of a key in a roll's grace period, in leased mode:
    /// this store's leases on `holder` (the new key, whose limits it spends)
    /// go back in the same write. If another thread is renewing `holder`,
    /// they stay with it.
    pub(crate) fn spend_giving_back(
        &self,
        book: &Arc<LeaseBook>,
        holder: &str,
        spend: Spend<'_>,
    ) -> Result<VerifyResult> {
        match book.start_renewal(holder) {
            Some(returning) => self.renew_with(book, holder, returning, spend),
            None => self.db.spend(self, spend),
        }
    }

    /// The write of a renewal this thread has started: gives back
    /// `returning`, decides the request exactly, and takes a new lease (or
    /// remembers a refusal), all in one transaction; then ends the renewal.
    fn renew_with(
        &self,
        book: &Arc<LeaseBook>,
        holder: &str,
        returning: Vec<Lease>,
        spend: Spend<'_>,
    ) -> Result<VerifyResult> {
        // Ends the renewal however this returns, a panic included: a key
        // left marked as renewing would make every later verify wait.
        let _renewing = Renewing { book, id: holder };
        let mut renewal = Renewal { returning, size: book.size, granted: None, gave_back: false };
        let result = write_giving_back(&*self.db, |tx| self.consume_in(tx, spend, Some(&mut renewal)));
        let keep: Vec<Lease> = match &result {
            // An answer given before the leases could go back (the key was
            // refused or re-hashed meanwhile) leaves them held.
            Ok(_) if !renewal.gave_back => renewal.returning.into_iter().chain(renewal.granted).collect(),
            Ok(_) => renewal.granted.into_iter().collect(),
            Err((_, true)) => renewal.returning,
            Err((_, false)) => Vec::new(),
        };
        self.hold(book, holder, keep);
        result.map_err(|(e, _)| e)
    }
}

/// A renewal in progress, ended when dropped.
struct Renewing<'a> {
    book: &'a LeaseBook,
    id: &'a str,
}

impl Drop for Renewing<'_> {
    fn drop(&mut self) {
        self.book.end_renewal(self.id);
    }
}
