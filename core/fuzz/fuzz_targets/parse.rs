//! `keyhouse::parse` against an independent parser written from
//! docs/key-format.md, plus the invariants of a successful parse.
//!
//! Input: the first byte picks a mode, the rest is the text.
//! - mode & 3 == 0: the text as is (lossy UTF-8);
//! - mode & 3 == 1: the text with its correct checksum appended, so inputs get
//!   past CHECKSUM_MISMATCH and reach the well-formed path;
//! - mode & 3 == 2: a well-formed key built from the bytes, then mutated, and
//!   (if mode & 4) its checksum recomputed;
//! - mode & 3 == 3: the raw bytes, including non-UTF-8, via from_utf8_lossy.
#![no_main]

mod common;

use std::sync::OnceLock;

use common::*;
use keyhouse::{Error, MalformedReason};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use regex::Regex;

fn regexes() -> &'static (Regex, Regex) {
    static R: OnceLock<(Regex, Regex)> = OnceLock::new();
    R.get_or_init(|| {
        (Regex::new(&format!("^(?:{})$", keyhouse::KEY_REGEX)).unwrap(), Regex::new(keyhouse::KEY_REGEX).unwrap())
    })
}

fn build_input(data: &[u8]) -> Option<String> {
    let (&mode, rest) = data.split_first()?;
    Some(match mode & 3 {
        0 => text(rest).into_owned(),
        1 => with_checksum(&text(rest)),
        2 => {
            let mut u = Unstructured::new(rest);
            let key = arbitrary_key(&mut u).ok()?;
            let mutated = mutate(&mut u, &key).ok()?;
            if mode & 4 != 0 && mutated.len() > CHECKSUM_LEN && mutated.is_char_boundary(mutated.len() - CHECKSUM_LEN) {
                with_checksum(&mutated[..mutated.len() - CHECKSUM_LEN])
            } else {
                mutated
            }
        }
        _ => String::from_utf8_lossy(rest).into_owned(),
    })
}

fn check(key: &str) {
    let got = keyhouse::parse(key);
    let want = reference_parse(key);
    match (&got, &want) {
        (Ok(p), Ok((prefix, id))) => {
            assert_eq!((p.prefix.as_str(), p.id.as_str()), (*prefix, *id), "parts of {key:?}");
        }
        (Err(Error::Malformed(r)), Err(w)) => {
            assert_eq!(r, w, "reason for {key:?}");
            assert_eq!(MalformedReason::from_code(r.code()), Some(*r));
            assert_eq!(got.as_ref().unwrap_err().code().as_str(), "MALFORMED");
        }
        _ => panic!("parse({key:?}) = {got:?}, the spec says {want:?}"),
    }

    let (anchored, scan) = regexes();
    if let Ok(p) = &got {
        // Re-assembling the parts gives back the input.
        let head = format!("{}_{}_", p.prefix, p.id);
        assert!(key.starts_with(&head), "{key:?} does not start with {head:?}");
        let tail = &key[head.len()..];
        assert!(secret_widths().contains(&(tail.len() - CHECKSUM_LEN)), "{key:?}");
        assert_eq!(format!("{head}{tail}"), key);
        assert_eq!(with_checksum(&key[..key.len() - CHECKSUM_LEN]), key);
        assert!(keyhouse::format::is_valid_id(&p.id), "{key:?}");
        // Every key matches KEY_REGEX, whole and when embedded in text.
        assert!(anchored.is_match(key), "KEY_REGEX does not match the key {key:?}");
        let text = format!("token: {key}, more");
        let m = scan.find(&text).unwrap_or_else(|| panic!("KEY_REGEX finds nothing in {text:?}"));
        assert_eq!(m.as_str(), key, "KEY_REGEX found the wrong span in {text:?}");
        // A well-formed key hashes.
        assert!(keyhouse::hash_key(key, None).is_ok(), "{key:?}");
    } else {
        assert!(keyhouse::hash_key(key, None).is_err(), "{key:?} is malformed but hashes");
    }
    // Parsing is a pure function.
    assert_eq!(format!("{:?}", keyhouse::parse(key)), format!("{got:?}"));
}

fuzz_target!(|data: &[u8]| {
    if let Some(key) = build_input(data) {
        check(&key);
    }
});
