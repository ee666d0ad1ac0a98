//! `keyhouse::parse_duration` (the CLI's duration syntax) against a reference
//! written from its documentation: `<digits><unit>` with unit ms, s (or none),
//! m, h or d; refused above `MAX_DURATION`.
//!
//! Invariants: Ok(d) exactly when the reference accepts, with the same value;
//! Ok(d) implies d <= MAX_DURATION, d is whole milliseconds, and
//! `format!("{}ms", d.as_millis())` parses back to d.
//!
//! Input: first byte even: the rest as text; odd: a number and unit drawn
//! from the input, near the limits half of the time.
#![no_main]

mod common;

use std::time::Duration;

use keyhouse::{parse_duration, MAX_DURATION};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const UNITS: &[(&str, u128)] =
    &[("ms", 1), ("", 1000), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];

fn reference(s: &str) -> Option<u128> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let ms_per = UNITS.iter().find(|(u, _)| *u == unit)?.1;
    let significant = digits.trim_start_matches('0');
    if significant.len() > 30 {
        return None; // far beyond any limit
    }
    let n: u128 = if significant.is_empty() { 0 } else { significant.parse().unwrap() };
    let ms = n * ms_per;
    (ms <= MAX_DURATION.as_millis()).then_some(ms)
}

fn structured(u: &mut Unstructured) -> Result<String> {
    let (unit, ms_per) = *u.choose(UNITS)?;
    let n: u64 = if u.arbitrary()? {
        let edge = (MAX_DURATION.as_millis() / ms_per) as u64;
        edge.saturating_add_signed(u.int_in_range(-3..=3i64)?)
    } else {
        u.arbitrary()?
    };
    let zeros = "0".repeat(u.int_in_range(0..=3usize)?);
    Ok(format!("{zeros}{n}{unit}"))
}

fn check(s: &str) {
    let got = parse_duration(s);
    let want = reference(s);
    match (&got, want) {
        (Ok(d), Some(ms)) => assert_eq!(d.as_millis(), ms, "parse_duration({s:?})"),
        (Err(msg), None) => assert!(!msg.is_empty()),
        _ => panic!("parse_duration({s:?}) = {got:?}, expected {want:?} ms"),
    }
    if let Ok(d) = got {
        assert!(d <= MAX_DURATION, "{s:?} gave {d:?}");
        assert_eq!(d.subsec_nanos() % 1_000_000, 0, "{s:?} gave {d:?}");
        let again = format!("{}ms", d.as_millis());
        assert_eq!(parse_duration(&again), Ok(d), "{again:?}");
        assert_eq!(Duration::from_millis(d.as_millis() as u64), d);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        check("");
        return;
    };
    if mode & 1 == 0 {
        check(&common::text(rest));
    } else if let Ok(s) = structured(&mut Unstructured::new(rest)) {
        check(&s);
    }
});
