//! Millisecond timestamps, the one time type the core stores and compares.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in whole milliseconds since the Unix epoch (UTC).
///
/// Milliseconds keep stored values, conformance vectors and every binding's
/// date type in exact agreement; nothing in Keyhouse needs finer resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

/// The earliest time Keyhouse stores: 0001-01-01T00:00:00.000Z. Every
/// binding's date type (Python's `datetime`, JavaScript's `Date`, Java's
/// `Instant`, Swift's `Date`) can hold every time in `MIN..=MAX`.
pub const MIN_TIMESTAMP: Timestamp = Timestamp(-62_135_596_800_000);
/// The latest time Keyhouse stores: 9999-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP: Timestamp = Timestamp(253_402_300_799_999);
/// The longest duration Keyhouse takes: from the earliest to the latest
/// storable time (about 10,000 years).
pub const MAX_DURATION: Duration = Duration::from_millis((MAX_TIMESTAMP.0 - MIN_TIMESTAMP.0) as u64);

impl Timestamp {
    /// The timestamp `ms` milliseconds after the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whether this time lies in `MIN_TIMESTAMP..=MAX_TIMESTAMP`.
    pub fn in_range(self) -> bool {
        (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&self)
    }

    /// This timestamp plus `d`, or `None` past [`MAX_TIMESTAMP`].
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let t = Timestamp(self.0.checked_add(i64::try_from(d.as_millis()).ok()?)?);
        t.in_range().then_some(t)
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        SystemTime::now().into()
    }

    /// This timestamp plus `d`, saturating instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration_millis(d)))
    }

    /// This timestamp minus `d`, saturating instead of overflowing.
    pub fn saturating_sub(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(duration_millis(d)))
    }

    /// The same instant as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_millis(self.0 as u64)
        } else {
            UNIX_EPOCH - Duration::from_millis(self.0.unsigned_abs())
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(duration_millis(d)),
            Err(e) => Timestamp(-duration_millis(e.duration())),
        }
    }
}

/// A duration in whole milliseconds, saturating at `i64::MAX`.
pub fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Parses a duration as the CLI takes it: `3600` (seconds), `90s`, `15m`,
/// `12h`, `30d` or `250ms`. Anything longer than [`MAX_DURATION`] is refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let clipped = crate::util::clip(s);
    let too_long = || format!("{clipped:?} is longer than the longest duration Keyhouse stores (about 10,000 years)");
    let n: u64 = match digits.parse() {
        Ok(n) => n,
        Err(_) if !digits.is_empty() => return Err(too_long()),
        Err(_) => return Err(format!("{clipped:?} is not a duration such as 3600, 90s, 15m, 12h or 30d")),
    };
    let ms_per = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("unknown unit in {clipped:?}; use ms, s, m, h or d")),
    };
    n.checked_mul(ms_per).map(Duration::from_millis).filter(|d| *d <= MAX_DURATION).ok_or_else(too_long)
}

/// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-27T21:12:13.000Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400_000);
        let ms_of_day = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, rest) = (ms_of_day / 3_600_000, ms_of_day % 3_600_000);
        let (min, rest) = (rest / 60_000, rest % 60_000);
        let (s, ms) = (rest / 1000, rest % 1000);
        write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{ms:03}Z")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = crate::Error;

    /// Parses RFC 3339 in UTC (`2026-12-01T00:00:00Z`, optionally with
    /// milliseconds), or a plain number of milliseconds since the epoch.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            crate::Error::invalid(format!(
                "{:?} is not an RFC 3339 UTC time such as 2026-12-01T00:00:00Z",
                crate::util::clip(s)
            ))
        };
        if let Ok(ms) = s.parse::<i64>() {
            let t = Timestamp(ms);
            return if t.in_range() {
                Ok(t)
            } else {
                Err(crate::Error::invalid(format!("{ms} ms is outside {MIN_TIMESTAMP}..{MAX_TIMESTAMP}")))
            };
        }
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = s.get(r)?;
            part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
        };
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad());
        }
        let (y, mo, d) = (num(0..4).ok_or_else(bad)?, num(5..7).ok_or_else(bad)?, num(8..10).ok_or_else(bad)?);
        let (h, mi, sec) = (num(11..13).ok_or_else(bad)?, num(14..16).ok_or_else(bad)?, num(17..19).ok_or_else(bad)?);
        let ms = match &s[19..] {
            "Z" | "z" => 0,
            frac if frac.len() == 5 && frac.starts_with('.') && frac.ends_with(['Z', 'z']) => {
                num(20..23).ok_or_else(bad)?
            }
            _ => return Err(bad()),
        };
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 {
            return Err(bad());
        }
        let days = days_from_civil(y, mo, d);
        let t = Timestamp(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms);
        // Four digits allow year 0000, which lies before MIN_TIMESTAMP.
        if t.in_range() {
            Ok(t)
        } else {
            Err(bad())
        }
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-to-days algorithm, the inverse of `civil_from_days`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(Timestamp::from_millis(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::from_millis(1_798_406_400_123).to_string(), "2026-12-27T21:20:00.123Z");
        assert_eq!(Timestamp::from_millis(951_782_400_000).to_string(), "2000-02-29T00:00:00.000Z");
        assert_eq!(Timestamp::from_millis(-1).to_string(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_rfc3339() {
        for ms in [0, 951_782_400_000, 1_798_406_400_123, -1] {
            let t = Timestamp::from_millis(ms);
            assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        }
        assert_eq!("2026-12-01T00:00:00Z".parse::<Timestamp>().unwrap().to_string(), "2026-12-01T00:00:00.000Z");
        // Year 0000 was found by the `timestamp` fuzz target (core/fuzz/regressions).
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-12-01",
            "2026-12-01T00:00:00+01:00",
            "0000-12-06T00:00:00Z",
            "-62135596800001",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_system_time() {
        for ms in [-5_000, 0, 1_798_406_400_123] {
            let t = Timestamp::from_millis(ms);
            assert_eq!(Timestamp::from(t.to_system_time()), t);
        }
    }
}
