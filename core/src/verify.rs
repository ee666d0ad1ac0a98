//! The verify pipeline's decisions, as pure functions of a stored key and the time.
//!
//! The store does the I/O; these functions decide. Keeping them pure is what
//! lets the same checks run on a read-only snapshot first and again inside the
//! write transaction for keys with credits or a rate limit.

use std::time::Duration;

use crate::model::{KeyInfo, Outcome, RateLimitState};
use crate::permissions::covers_all;
use crate::ratelimit::{self, Decision};
use crate::store::row::KeyRow;
use crate::time::duration_millis;
use crate::Timestamp;

/// Checks, in order: REVOKED, DISABLED, EXPIRED, INSUFFICIENT_PERMISSIONS.
pub(crate) fn status_outcome(info: &KeyInfo, now: Timestamp, required: &[&str]) -> Option<Outcome> {
    if info.revoked_at.is_some() {
        Some(Outcome::Revoked)
    } else if !info.enabled {
        Some(Outcome::Disabled)
    } else if info.expires_at.is_some_and(|t| now >= t) {
        Some(Outcome::Expired)
    } else if !covers_all(&info.permissions, required) {
        Some(Outcome::InsufficientPermissions)
    } else {
        None
    }
}

/// Whether verifying this key must write: it has credits or a rate limit to
/// consume, or it is in a roll's grace period and spends its replacement's
/// (which may exist even when its own do not).
pub(crate) fn has_limits(row: &KeyRow) -> bool {
    row.info.remaining.is_some() || row.info.rate_limit.is_some() || row.limit_source.is_some()
}

/// Brings `remaining` up to date with the refill schedule. Refills happen
/// on a fixed grid from `last_refill_at`, so they never drift.
pub(crate) fn apply_refill(info: &mut KeyInfo, now: Timestamp) {
    let (Some(refill), Some(last)) = (info.refill, info.last_refill_at) else { return };
    let interval = duration_millis(refill.interval).max(1);
    let elapsed = now.as_millis() - last.as_millis();
    if elapsed >= interval {
        info.remaining = Some(refill.amount);
        info.last_refill_at = Some(Timestamp::from_millis(last.as_millis() + elapsed / interval * interval));
    }
}

/// How long until the next refill of a key whose refills are up to date at
/// `now` (`apply_refill`), if it has a refill.
pub(crate) fn next_refill_in(info: &KeyInfo, now: Timestamp) -> Option<Duration> {
    let (Some(refill), Some(last)) = (info.refill, info.last_refill_at) else { return None };
    Some(refill_wait(last, duration_millis(refill.interval), now))
}

/// How long from `now` until the refill period that began at `start` and
/// lasts `interval_ms` ends; at least 1 ms.
pub(crate) fn refill_wait(start: Timestamp, interval_ms: i64, now: Timestamp) -> Duration {
    let due = start.as_millis().saturating_add(interval_ms.max(1));
    Duration::from_millis(u64::try_from(due.saturating_sub(now.as_millis())).unwrap_or(0).max(1))
}

/// What the limits said about one request.
pub(crate) enum Limits {
    /// Admitted; `row` now holds the consumed state to write.
    Admitted { rate_limit: Option<RateLimitState> },
    /// Refused with RATE_LIMITED or USAGE_EXCEEDED; nothing is consumed.
    Refused { outcome: Outcome, retry_after: Option<Duration>, rate_limit: Option<RateLimitState> },
}

/// Applies the refill, the rate limit and then the credits, in that order,
/// to the row that holds the limit state (the key itself, or during a
/// roll's grace period the key that replaced it). A refused request
/// consumes neither a rate-limit slot nor credits; usage is counted by the
/// caller, on the key that was verified.
pub(crate) fn consume(row: &mut KeyRow, now: Timestamp, cost: u32) -> Limits {
    apply_refill(&mut row.info, now);
    let mut rate_state = None;
    let mut new_tat = row.rate_tat;
    if let Some(rl) = row.info.rate_limit {
        match ratelimit::check(&rl, row.rate_tat, now) {
            Decision::Allowed { tat, state } => {
                new_tat = Some(tat);
                rate_state = Some(state);
            }
            Decision::Limited { retry_after_ms, state } => {
                return Limits::Refused {
                    outcome: Outcome::RateLimited,
                    retry_after: Some(Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(0))),
                    rate_limit: Some(state),
                };
            }
        }
    }
    if let Some(remaining) = row.info.remaining {
        let cost = i64::from(cost);
        if remaining < cost {
            let rate_limit = row.info.rate_limit.map(|rl| ratelimit::peek(&rl, row.rate_tat, now));
            return Limits::Refused {
                outcome: Outcome::UsageExceeded,
                retry_after: next_refill_in(&row.info, now),
                rate_limit,
            };
        }
        row.info.remaining = Some(remaining - cost);
    }
    row.rate_tat = new_tat;
    Limits::Admitted { rate_limit: rate_state }
}

/// Counts one successful verification of `info` at `now`.
pub(crate) fn record_use(info: &mut KeyInfo, now: Timestamp) {
    info.usage_count = info.usage_count.saturating_add(1);
    info.last_used_at = Some(info.last_used_at.map_or(now, |t| t.max(now)));
}

/// The rate-limit state to report without consuming anything.
pub(crate) fn peek_rate_limit(row: &KeyRow, now: Timestamp) -> Option<RateLimitState> {
    row.info.rate_limit.map(|rl| ratelimit::peek(&rl, row.rate_tat, now))
}
