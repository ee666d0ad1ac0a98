//! Property tests of the key format.

use keyhouse::format::{self, ID_BYTES, MAX_SECRET_BYTES, MIN_SECRET_BYTES};
use keyhouse::seam::FixedBytes;
use keyhouse::{parse, KEY_REGEX};
use proptest::prelude::*;

fn prefix() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,31}".prop_filter("v1 prefix rules", |p| !p.ends_with('_') && !p.contains("__"))
}

fn key_input() -> impl Strategy<Value = (String, Vec<u8>)> {
    (prefix(), MIN_SECRET_BYTES..=MAX_SECRET_BYTES)
        .prop_flat_map(|(p, n)| (Just(p), proptest::collection::vec(any::<u8>(), ID_BYTES + n)))
}

thread_local! {
    static KEY_RE: regex::Regex = regex::Regex::new(KEY_REGEX).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generate_then_parse_round_trips((prefix, bytes) in key_input()) {
        let n = bytes.len() - ID_BYTES;
        let g = format::generate_with_random(&prefix, n, None, &*FixedBytes::new(&bytes)).unwrap();
        let p = parse(&g.key).unwrap();
        prop_assert_eq!(&p.prefix, &prefix);
        prop_assert_eq!(&p.id, &g.id);
        prop_assert!(g.key.len() <= format::MAX_KEY_LEN);
        prop_assert!(g.key.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()));
    }

    #[test]
    fn any_one_character_change_is_rejected((prefix, bytes) in key_input(), pos in any::<prop::sample::Index>(), c in "[0-9A-Za-z_]") {
        let n = bytes.len() - ID_BYTES;
        let key = format::generate_with_random(&prefix, n, None, &*FixedBytes::new(&bytes)).unwrap().key;
        let i = pos.index(key.len());
        let c = c.chars().next().unwrap();
        prop_assume!(key.as_bytes()[i] as char != c);
        let mut typo = key.clone();
        typo.replace_range(i..=i, &c.to_string());
        prop_assert!(parse(&typo).is_err(), "{} accepted", typo);
    }

    #[test]
    fn the_published_regex_finds_every_key((prefix, bytes) in key_input()) {
        let n = bytes.len() - ID_BYTES;
        let key = format::generate_with_random(&prefix, n, None, &*FixedBytes::new(&bytes)).unwrap().key;
        let text = format!("token: {key}, rest of the line");
        let found = KEY_RE.with(|re| re.find(&text).map(|m| m.as_str().to_owned()));
        prop_assert_eq!(found.as_deref(), Some(key.as_str()));
    }

    #[test]
    fn parse_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn parse_never_panics_on_near_keys(s in "[a-z0-9A-Z_]{0,160}") {
        if let Ok(p) = parse(&s) {
            let head = format!("{}_{}_", p.prefix, p.id);
            prop_assert!(s.starts_with(&head));
        }
    }
}
