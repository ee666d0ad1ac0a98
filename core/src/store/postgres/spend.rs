//! Spending credits and rate-limit slots on PostgreSQL: one conditional
//! statement per attempt, exact across any number of machines.
//!
//! Each spend is one statement (`Sql::spend`) that locks the key's state
//! row, applies the refill, the GCRA rate limit and the credits to the
//! state it finds, and writes the result only if the request is admitted:
//! `UPDATE … WHERE <still admissible>`. Spends of one key queue on the row
//! lock, each deciding on the state the one before it left, so any number
//! of processes on any number of machines stay exact, a refused request
//! writes nothing, and no lock is held across round trips.
//!
//! The statement returns the state it found. From that state the same pure
//! `verify::consume` that SQLite uses builds the answer (remaining credits,
//! rate-limit state, retry time), and must reach the same decision as the
//! SQL did: a disagreement is reported as a STORE_ERROR, never answered.
//! The statement takes the key's limits from the caller and applies only
//! while the key's settings `version` is the caller's; after a settings
//! change the caller reads the key again.

use std::sync::Arc;

use postgres::types::Type;

use super::connect::pg_error;
use super::pool::{query, PgConn};
use super::Postgres;
use crate::error::{Error, Result};
use crate::model::{Outcome, VerifyResult};
use crate::store::row::KeyRow;
use crate::store::verifying::{same_secret, Spend};
use crate::store::Keyhouse;
use crate::time::{duration_millis, Timestamp};
use crate::verify::{consume, has_limits, status_outcome, Limits};

/// Attempts before a spend on a key whose settings change under every
/// attempt gives up with STORE_BUSY.
const MAX_ATTEMPTS: u32 = 16;

/// What became of one spend statement.
enum Attempt {
    /// The state it found, and whether it admitted the request and wrote.
    Decided { remaining: Option<i64>, last_refill_at: Option<i64>, rate_tat: Option<i64>, spent: bool },
    /// The key's settings changed, or it is gone: read it all again.
    Changed,
}

impl Postgres {
    pub(super) fn spend_cas(&self, kh: &Keyhouse, spend: Spend<'_>) -> Result<VerifyResult> {
        let Spend { key, prefix, proved, mut new_hash, required_permissions, cost, now } = spend;
        let id = proved.info.id.as_str();
        // Read before anything the spend decides on, for `update_state`.
        let since = self.cache.snapshot();
        let mut row = proved.clone();
        let mut source = None;
        let (mut reload_row, mut reload_source) = (false, true);
        for attempt in 0..MAX_ATTEMPTS {
            if reload_row {
                // The cached copy's settings were out of date: decide again
                // on the stored row, which may have changed in any way.
                let Some(fresh) = self.load_fresh(id)? else {
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
                    return kh.admit(row.info.into_info(), row.seq, None, new_hash.as_deref(), now, true);
                }
                reload_source = true;
            }
            if reload_source {
                // During a roll's grace period the limits live on the new key
                // (and on the key itself, as on SQLite, once that one is deleted).
                source = match &row.limit_source {
                    Some(src) if attempt == 0 => self.cached(src)?,
                    Some(src) => self.load_fresh(src)?,
                    None => None,
                };
                reload_source = false;
            }
            let holder = source.as_mut().unwrap_or(&mut row);
            let (remaining, last_refill_at, rate_tat, spent) = match self.try_spend(holder, now, cost)? {
                Attempt::Decided { remaining, last_refill_at, rate_tat, spent } => {
                    (remaining, last_refill_at, rate_tat, spent)
                }
                Attempt::Changed => {
                    reload_row = true;
                    continue;
                }
            };
            holder.info.remaining = remaining;
            holder.info.last_refill_at = last_refill_at.map(Timestamp::from_millis);
            holder.rate_tat = rate_tat;
            let mut after = holder.clone();
            let decision = consume(&mut after, now, cost);
            if spent != matches!(decision, Limits::Admitted { .. }) {
                return Err(Error::Store(format!("the spend of key {id} was decided differently by the server")));
            }
            match decision {
                Limits::Refused { outcome, retry_after, rate_limit } => {
                    let mut shown = row.clone();
                    shown.show_balance_of(&after);
                    let mut result = kh.refused(shown, outcome, now);
                    (result.retry_after, result.rate_limit) = (retry_after, rate_limit);
                    return Ok(result);
                }
                Limits::Admitted { rate_limit } => {
                    *holder = after;
                    self.cache.update_state(holder, since);
                    if let Some(src) = &source {
                        row.show_balance_of(src);
                    }
                    let mut result = kh.admit(row.info.into_info(), row.seq, None, new_hash.as_deref(), now, true)?;
                    result.rate_limit = rate_limit;
                    return Ok(result);
                }
            }
        }
        Err(Error::StoreBusy(format!("key {id} changed under {MAX_ATTEMPTS} spends in a row")))
    }

    /// Runs the spend statement for `holder` (the row that holds the limits).
    fn try_spend(&self, holder: &KeyRow, now: Timestamp, cost: u32) -> Result<Attempt> {
        let info = &holder.info;
        let refill_amount = info.refill.map(|r| r.amount);
        let refill_ms = info.refill.map(|r| duration_millis(r.interval));
        let limit = info.rate_limit.map(|r| i64::from(r.limit));
        let window = info.rate_limit.map(|r| duration_millis(r.window));
        let (now, cost) = (now.as_millis(), i64::from(cost));
        let mut conn = self.conn()?;
        let PgConn { client, prepared } = &mut *conn;
        let rows = query(
            client,
            prepared,
            &self.sql.spend,
            &[
                (&holder.seq, Type::INT8),
                (&now, Type::INT8),
                (&refill_amount, Type::INT8),
                (&refill_ms, Type::INT8),
                (&limit, Type::INT8),
                (&window, Type::INT8),
                (&cost, Type::INT8),
                (&holder.version, Type::INT8),
            ],
        )?;
        let Some(r) = rows.first() else { return Ok(Attempt::Changed) };
        let get = |i: usize| r.try_get::<_, Option<i64>>(i).map_err(pg_error);
        if get(0)? != Some(holder.version) {
            return Ok(Attempt::Changed);
        }
        Ok(Attempt::Decided {
            remaining: get(1)?,
            last_refill_at: get(2)?,
            rate_tat: get(3)?,
            spent: r.try_get(4).map_err(pg_error)?,
        })
    }

    /// The stored row, read now, bypassing the cache (and then cached).
    fn load_fresh(&self, id: &str) -> Result<Option<KeyRow>> {
        self.cache.forget(id);
        let found = self.cache.get_or_load(id, || self.load(id))?.found;
        Ok(found.map(Arc::unwrap_or_clone))
    }

    /// A row as a verify would see it: from the cache when it is current.
    fn cached(&self, id: &str) -> Result<Option<KeyRow>> {
        Ok(self.lookup_row(id)?.found.map(Arc::unwrap_or_clone))
    }
}
