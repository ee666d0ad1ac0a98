//! `str::parse::<keyhouse::Timestamp>()`: RFC 3339 in UTC or milliseconds.
//!
//! Invariants for every input: Ok(t) implies `t.in_range()`, that
//! `t.to_string()` has the shape `YYYY-MM-DDTHH:MM:SS.mmmZ` and parses back to
//! `t`; a millisecond input gives that many milliseconds; an RFC 3339 input
//! gives the instant a reference calendar computation (not Hinnant's
//! algorithm, which the core uses) gives, and prints back as itself.
//!
//! Input: first byte % 3 == 0: the rest as text; 1: an i64 from the input as
//! decimal; 2: an RFC 3339 string from fields drawn near their limits.
#![no_main]

mod common;

use keyhouse::{ErrorCode, Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    [31, if is_leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(m - 1) as usize]
}

/// Days from 0001-01-01 to the first day of year `y` (proleptic Gregorian).
fn days_before_year(y: i64) -> i64 {
    let p = y - 1;
    365 * p + p.div_euclid(4) - p.div_euclid(100) + p.div_euclid(400)
}

/// The reference: milliseconds since the epoch of the fields, if they name a
/// real date and time.
fn reference_ms(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, ms: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let day_of_year: i64 = (1..mo).map(|m| days_in_month(y, m)).sum::<i64>() + d - 1;
    let days = days_before_year(y) + day_of_year - days_before_year(1970);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

/// The fields of an RFC 3339 string in the exact shape the parser documents.
fn rfc3339_fields(s: &str) -> Option<[i64; 7]> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        part.iter().all(u8::is_ascii_digit).then(|| std::str::from_utf8(part).unwrap().parse().unwrap())
    };
    if !(b.len() == 20 || b.len() == 24) || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || !matches!(b[b.len() - 1], b'Z' | b'z') {
        return None;
    }
    let ms = if b.len() == 24 {
        if b[19] != b'.' {
            return None;
        }
        digits(20..23)?
    } else {
        0
    };
    Some([digits(0..4)?, digits(5..7)?, digits(8..10)?, digits(11..13)?, digits(14..16)?, digits(17..19)?, ms])
}

fn check(s: &str) {
    let got = s.parse::<Timestamp>();
    if let Err(e) = &got {
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{s:?}: {e}");
    }
    if let Ok(ms) = s.parse::<i64>() {
        let in_range = (MIN_TIMESTAMP.as_millis()..=MAX_TIMESTAMP.as_millis()).contains(&ms);
        assert_eq!(got.as_ref().ok(), in_range.then_some(&Timestamp::from_millis(ms)), "{s:?}");
    } else if let Some([y, mo, d, h, mi, sec, ms]) = rfc3339_fields(s) {
        let want = reference_ms(y, mo, d, h, mi, sec, ms).map(Timestamp::from_millis).filter(|t| t.in_range());
        assert_eq!(got.as_ref().ok(), want.as_ref(), "{s:?} (fields {:?})", [y, mo, d, h, mi, sec, ms]);
        if let Ok(t) = &got {
            let printed = format!("{}T{}.{:03}Z", &s[..10], &s[11..19], ms);
            assert_eq!(t.to_string(), printed, "{s:?}");
        }
    } else {
        assert!(got.is_err(), "{s:?} is neither milliseconds nor RFC 3339 but parsed as {got:?}");
    }

    if let Ok(t) = got {
        assert!(t.in_range(), "{s:?} parsed to {t:?} ({t}), outside MIN_TIMESTAMP..=MAX_TIMESTAMP");
        let printed = t.to_string();
        assert!(
            rfc3339_fields(&printed).is_some() && printed.len() == 24 && printed.as_bytes()[10] == b'T',
            "{printed:?}"
        );
        assert_eq!(printed.parse::<Timestamp>().ok(), Some(t), "{s:?} -> {t:?} -> {printed:?}");
        assert_eq!(t.as_millis().to_string().parse::<Timestamp>().ok(), Some(t));
    }
}

fn from_i64(u: &mut Unstructured) -> Result<String> {
    let ms: i64 = match u.int_in_range(0..=2u8)? {
        0 => u.arbitrary()?,
        1 => MIN_TIMESTAMP.as_millis() + u.int_in_range(-2..=2i64)?,
        _ => MAX_TIMESTAMP.as_millis() + u.int_in_range(-2..=2i64)?,
    };
    let t = Timestamp::from_millis(ms);
    // Every in-range instant prints and parses back.
    if t.in_range() {
        let printed = t.to_string();
        assert_eq!(printed.parse::<Timestamp>().ok(), Some(t), "{ms} -> {printed:?}");
        let [y, mo, d, h, mi, sec, frac] = rfc3339_fields(&printed).expect("prints RFC 3339");
        assert_eq!(reference_ms(y, mo, d, h, mi, sec, frac), Some(ms), "{ms} -> {printed:?}");
    }
    Ok(if u.arbitrary()? { format!("{ms:+}") } else { ms.to_string() })
}

fn from_fields(u: &mut Unstructured) -> Result<String> {
    let year = match u.int_in_range(0..=3u8)? {
        0 => u.int_in_range(0..=9999)?,
        1 => u.int_in_range(0..=2)?,
        2 => u.int_in_range(9997..=9999)?,
        _ => 1970 + u.int_in_range(-2..=60)?,
    };
    let mo = u.int_in_range(0..=13)?;
    let d = u.int_in_range(0..=32)?;
    let h = u.int_in_range(0..=24)?;
    let mi = u.int_in_range(0..=60)?;
    let s = u.int_in_range(0..=60)?;
    let sep = *u.choose(&['T', 't', ' '])?;
    let z = *u.choose(&['Z', 'z'])?;
    let frac = if u.arbitrary()? { format!(".{:03}", u.int_in_range(0..=999)?) } else { String::new() };
    Ok(format!("{year:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{z}"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        check("");
        return;
    };
    let mut u = Unstructured::new(rest);
    match mode % 3 {
        0 => check(&common::text(rest)),
        1 => {
            if let Ok(s) = from_i64(&mut u) {
                check(&s);
            }
        }
        _ => {
            if let Ok(s) = from_fields(&mut u) {
                check(&s);
            }
        }
    }
});
