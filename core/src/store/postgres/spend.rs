//! Spending credits and rate-limit slots on PostgreSQL: one conditional
//! statement per attempt, exact across any number of machines.
//!
//! The decision is made in Rust, by the same pure `verify::consume` SQLite
//! uses, on the limit state this process last saw. It is then written with
//! one `UPDATE … WHERE <the state is still what it was decided on>`: the
//! key's settings `version` and its `remaining`, `last_refill_at` and
//! `rate_tat`. Under PostgreSQL's row lock, two spends that decided on the
//! same state cannot both match; the one that loses reads the state afresh
//! and decides again. No lock is held across round trips, and a spend that
//! is refused writes nothing.
//!
//! A refusal decided on an older state also holds on the current one,
//! without a round trip: between two settings changes (which bump
//! `version` and reach the cache through the change log), credits only go
//! down, refills follow a fixed grid from `last_refill_at`, and the GCRA
//! time only moves forward.

use std::sync::Arc;

use postgres::types::Type;

use super::connect::pg_error;
use super::rows::load;
use super::Postgres;
use crate::error::{Error, Result};
use crate::model::{Outcome, VerifyResult};
use crate::store::row::KeyRow;
use crate::store::verifying::{same_secret, Spend};
use crate::store::Keyhouse;
use crate::time::Timestamp;
use crate::verify::{consume, has_limits, status_outcome, Limits};

/// Attempts before a spend on a key that every attempt finds changed gives
/// up with STORE_BUSY. Each lost attempt means another spend won, so this
/// takes hundreds of spends on one key within a few milliseconds.
const MAX_ATTEMPTS: u32 = 64;

impl Postgres {
    pub(super) fn spend_cas(&self, kh: &Keyhouse, spend: Spend<'_>) -> Result<VerifyResult> {
        let Spend { key, prefix, proved, mut new_hash, required_permissions, cost, now } = spend;
        let id = proved.info.id.as_str();
        let mut row = proved.clone();
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                // Lost a race, or the cached copy was out of date: decide
                // again on the stored row, which may have changed in any way.
                let Some(fresh) = self.load_fresh(id)? else {
                    self.cache.forget(id);
                    return Ok(VerifyResult::bare(Outcome::NotFound));
                };
                if !same_secret(&fresh, proved) {
                    match kh.authenticate(key, prefix, &fresh)? {
                        Some(hash) => new_hash = hash,
                        None => return Ok(VerifyResult::bare(Outcome::NotFound)),
                    }
                }
                row = fresh;
                if let Some(outcome) = status_outcome(&row.info, now, required_permissions) {
                    return Ok(kh.refused(row, outcome, now));
                }
                if !has_limits(&row) {
                    return kh.admit(row, new_hash.as_deref(), now);
                }
            }
            // During a roll's grace period the limits live on the new key
            // (and on the key itself, as on SQLite, once that one is deleted).
            let mut source = match &row.limit_source {
                Some(src) if attempt == 0 => self.cached(src)?,
                Some(src) => self.load_fresh(src)?,
                None => None,
            };
            let holder = source.as_mut().unwrap_or(&mut row);
            let before = holder.clone();
            match consume(holder, now, cost) {
                Limits::Refused { outcome, retry_after, rate_limit } => {
                    let mut row = row.clone();
                    if let Some(src) = &source {
                        row.show_balance_of(src);
                    }
                    let mut result = kh.refused(row, outcome, now);
                    (result.retry_after, result.rate_limit) = (retry_after, rate_limit);
                    return Ok(result);
                }
                Limits::Admitted { rate_limit } => {
                    let holder = source.as_ref().unwrap_or(&row);
                    if !self.write_if_unchanged(&before, holder)? {
                        continue;
                    }
                    self.cache.update_state(holder);
                    if let Some(src) = &source {
                        row.show_balance_of(src);
                    }
                    let mut result = kh.admit(row, new_hash.as_deref(), now)?;
                    result.rate_limit = rate_limit;
                    return Ok(result);
                }
            }
        }
        Err(Error::StoreBusy(format!("key {id} changed under {MAX_ATTEMPTS} spends in a row")))
    }

    /// Writes `after`'s limit state if the stored state is still `before`'s.
    fn write_if_unchanged(&self, before: &KeyRow, after: &KeyRow) -> Result<bool> {
        let ms = |t: Option<Timestamp>| t.map(Timestamp::as_millis);
        let (refill_before, refill_after) = (ms(before.info.last_refill_at), ms(after.info.last_refill_at));
        let mut conn = self.conn()?;
        let rows = conn
            .query_typed(
                &self.sql.spend,
                &[
                    (&before.seq, Type::INT8),
                    (&after.info.remaining, Type::INT8),
                    (&refill_after, Type::INT8),
                    (&after.rate_tat, Type::INT8),
                    (&before.version, Type::INT8),
                    (&before.info.remaining, Type::INT8),
                    (&refill_before, Type::INT8),
                    (&before.rate_tat, Type::INT8),
                ],
            )
            .map_err(pg_error)?;
        Ok(!rows.is_empty())
    }

    /// The stored row, read now, bypassing the cache (and then cached).
    fn load_fresh(&self, id: &str) -> Result<Option<KeyRow>> {
        self.cache.forget(id);
        let found = self.cache.get_or_load(id, || Ok(load(&mut *self.conn()?, &self.sql, id)?.map(Arc::new)))?.found;
        Ok(found.map(Arc::unwrap_or_clone))
    }

    /// A row as a verify would see it: from the cache when it is current.
    fn cached(&self, id: &str) -> Result<Option<KeyRow>> {
        Ok(self.lookup_row(id)?.found.map(Arc::unwrap_or_clone))
    }
}
