//! The rate limiter: GCRA (the generic cell rate algorithm).
//!
//! GCRA keeps one number per key, the theoretical arrival time (TAT). It
//! behaves as a token bucket holding `limit` tokens that refills at `limit`
//! per `window`: a client may burst `limit` requests, then gets one every
//! `window / limit`. Unlike fixed windows there is no burst of `2 × limit`
//! across a window edge, and the retry time is exact.
//!
//! Times are kept in units of `1/limit` ms, so the emission interval
//! `window / limit` is an integer and every result is exact.

use crate::time::duration_millis;
use crate::{RateLimit, RateLimitState, Timestamp};

/// What the limiter decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Admitted; store `tat` as the new state.
    Allowed { tat: i64, state: RateLimitState },
    /// Refused; retry after `retry_after_ms`. The stored state is unchanged.
    Limited { retry_after_ms: i64, state: RateLimitState },
}

/// Decides a request at `now` against the stored `tat` (`None` for a fresh key).
pub(crate) fn check(rl: &RateLimit, tat: Option<i64>, now: Timestamp) -> Decision {
    let limit = i64::from(rl.limit);
    let window = duration_millis(rl.window);
    let now_s = now.as_millis().saturating_mul(limit);
    let tau = window.saturating_mul(limit);
    let tat = tat.unwrap_or(now_s).max(now_s);
    let new_tat = tat.saturating_add(window);
    if new_tat - now_s > tau {
        let state = state(rl, tat, now_s, window, tau);
        let retry_after_ms = ceil_div(new_tat - tau - now_s, limit);
        Decision::Limited { retry_after_ms, state }
    } else {
        Decision::Allowed { tat: new_tat, state: state(rl, new_tat, now_s, window, tau) }
    }
}

/// The state a key shows at `now` without admitting a request.
pub(crate) fn peek(rl: &RateLimit, tat: Option<i64>, now: Timestamp) -> RateLimitState {
    let limit = i64::from(rl.limit);
    let window = duration_millis(rl.window);
    let now_s = now.as_millis().saturating_mul(limit);
    let tat = tat.unwrap_or(now_s).max(now_s);
    state(rl, tat, now_s, window, window.saturating_mul(limit))
}

fn state(rl: &RateLimit, tat: i64, now_s: i64, window: i64, tau: i64) -> RateLimitState {
    let remaining = (tau - (tat - now_s)).max(0) / window.max(1);
    RateLimitState {
        limit: rl.limit,
        window: rl.window,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset_at: Timestamp::from_millis(ceil_div(tat, i64::from(rl.limit))),
    }
}

fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rl(limit: u32, ms: u64) -> RateLimit {
        RateLimit { limit, window: Duration::from_millis(ms) }
    }

    /// Runs requests at the given times; returns how many were admitted.
    fn admitted(rl: &RateLimit, times: impl IntoIterator<Item = i64>) -> usize {
        let mut tat = None;
        let mut n = 0;
        for t in times {
            if let Decision::Allowed { tat: next, .. } = check(rl, tat, Timestamp::from_millis(t)) {
                tat = Some(next);
                n += 1;
            }
        }
        n
    }

    #[test]
    fn exact_retry_after() {
        let r = rl(3, 1000);
        let mut tat = None;
        for expect_remaining in [2, 1, 0] {
            match check(&r, tat, Timestamp::from_millis(0)) {
                Decision::Allowed { tat: t, state } => {
                    assert_eq!(state.remaining, expect_remaining);
                    tat = Some(t);
                }
                d => panic!("{d:?}"),
            }
        }
        assert!(matches!(check(&r, tat, Timestamp::from_millis(0)), Decision::Limited { retry_after_ms: 334, .. }));
        assert!(matches!(check(&r, tat, Timestamp::from_millis(333)), Decision::Limited { retry_after_ms: 1, .. }));
        assert!(matches!(check(&r, tat, Timestamp::from_millis(334)), Decision::Allowed { .. }));
    }

    #[test]
    fn no_double_burst_across_a_window_edge() {
        let r = rl(10, 1000);
        // A fixed window would admit 10 just before the edge at 1000 ms and
        // 10 more just after. Hammering every millisecond across the edge
        // admits the burst of 10 and then nothing until a slot frees up.
        assert_eq!(admitted(&r, 990..1010), 10);
        assert_eq!(admitted(&r, 900..1100), 11);
        // Under constant pressure, once the first burst is spent, every
        // half-open window of 1000 ms holds at most 10.
        let mut tat = None;
        let mut times = Vec::new();
        for t in 0..5000 {
            if let Decision::Allowed { tat: next, .. } = check(&r, tat, Timestamp::from_millis(t)) {
                tat = Some(next);
                times.push(t);
            }
        }
        for start in 10..4000 {
            let n = times.iter().filter(|&&t| t >= start && t < start + 1000).count();
            assert!(n <= 10, "{n} admitted in [{start}, {})", start + 1000);
        }
    }

    #[test]
    fn idle_key_gets_its_full_burst_back() {
        let r = rl(5, 60_000);
        assert_eq!(admitted(&r, std::iter::repeat(0).take(10)), 5);
        assert_eq!(peek(&r, Some(5 * 60_000), Timestamp::from_millis(60_000)).remaining, 5);
    }
}
