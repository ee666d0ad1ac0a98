//! `hash_key` and `verify_hash`, with and without a `Pepper`, against SHA-256
//! and HMAC-SHA256 computed here.
//!
//! - mode 0: a well-formed key built from the input: its hashes are exactly
//!   `sha256$<hex>` / `hmac-sha256$<id>$<hex>`, they verify, and a different
//!   key or a different pepper secret does not; `Pepper::new` accepts exactly
//!   the documented ids and secrets.
//! - mode 1: arbitrary key text against arbitrary (or mutated real) stored
//!   hash text and peppers: never panics, and the result is what the
//!   documentation says (bad stored hash: INVALID_ARGUMENT; malformed key:
//!   false; unknown pepper: UNKNOWN_PEPPER; otherwise the digest compare).
#![no_main]

mod common;

use common::*;
use hmac::{Hmac, KeyInit, Mac};
use keyhouse::{hash_key, verify_hash, ErrorCode, Pepper};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(key: &str) -> String {
    hex(Sha256::digest(key.as_bytes()).as_slice())
}

fn hmac_hex(secret: &[u8], key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(key.as_bytes());
    hex(mac.finalize().into_bytes().as_slice())
}

fn valid_pepper_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

fn arbitrary_pepper_id(u: &mut Unstructured) -> Result<String> {
    const C: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    let n = u.int_in_range(1..=32usize)?;
    (0..n).map(|_| u.choose(C).map(|&c| c as char)).collect()
}

fn arbitrary_secret(u: &mut Unstructured) -> Result<Vec<u8>> {
    let n = u.int_in_range(16..=80usize)?;
    (0..n).map(|_| u.arbitrary::<u8>()).collect()
}

fn round_trip(u: &mut Unstructured) -> Result<()> {
    let key = arbitrary_key(u)?;
    assert!(keyhouse::parse(&key).is_ok(), "{key:?} is well formed by the spec but parse refuses it");
    let id = arbitrary_pepper_id(u)?;
    let secret = arbitrary_secret(u)?;
    let pepper = Pepper::new(&id, &secret).expect("a valid pepper");
    assert_eq!(pepper.id(), id);
    assert!(!format!("{pepper:?}").contains(&format!("{secret:?}")));

    let plain = hash_key(&key, None).expect("hash a well-formed key");
    assert_eq!(plain, format!("sha256${}", sha256_hex(&key)));
    let peppered = hash_key(&key, Some(&pepper)).expect("hash a well-formed key");
    assert_eq!(peppered, format!("hmac-sha256${id}${}", hmac_hex(&secret, &key)));

    assert!(verify_hash(&key, &plain, &[]).unwrap());
    assert!(verify_hash(&key, &plain, &[pepper.clone()]).unwrap());
    assert!(verify_hash(&key, &peppered, &[pepper.clone()]).unwrap());
    let err = verify_hash(&key, &peppered, &[]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownPepper, "{err}");

    // The pepper is found by id among several.
    let other_id = if id == "other" { "other2" } else { "other" };
    let other = Pepper::new(other_id, &[0x5a; 16]).unwrap();
    assert!(verify_hash(&key, &peppered, &[other.clone(), pepper.clone()]).unwrap());
    // Same id, different secret: no match.
    let mut wrong = secret.clone();
    let i = u.choose_index(wrong.len())?;
    wrong[i] ^= 1 << u.int_in_range(0..=7u8)?;
    assert!(!verify_hash(&key, &peppered, &[Pepper::new(&id, &wrong).unwrap()]).unwrap());

    // A different key, well formed or not, never matches.
    let other_key = if u.arbitrary()? { arbitrary_key(u)? } else { mutate(u, &key)? };
    if other_key != key {
        assert!(!verify_hash(&other_key, &plain, &[]).unwrap(), "{other_key:?} matches the hash of {key:?}");
        assert!(!verify_hash(&other_key, &peppered, &[pepper.clone()]).unwrap());
        if other_key.is_ascii() {
            // Re-checksummed, so the compare is reached for most edits.
            let rehashed = with_checksum(&other_key[..other_key.len().saturating_sub(CHECKSUM_LEN)]);
            if rehashed != key {
                assert!(!verify_hash(&rehashed, &plain, &[]).unwrap());
            }
        }
    }

    // Pepper::new takes exactly the documented ids and secrets.
    let any_id: String = u.arbitrary()?;
    let any_secret: Vec<u8> = u.arbitrary()?;
    let expect_ok = valid_pepper_id(&any_id) && any_secret.len() >= 16;
    match Pepper::new(&any_id, &any_secret) {
        Ok(p) => assert!(expect_ok && p.id() == any_id, "Pepper::new({any_id:?}, {} bytes)", any_secret.len()),
        Err(e) => assert!(!expect_ok && e.code() == ErrorCode::InvalidArgument, "{any_id:?}: {e}"),
    }
    Ok(())
}

/// What verify_hash must return, per the documentation and hashing.rs's
/// contract; `None` for an INVALID_ARGUMENT, `Some(Err(()))` for UNKNOWN_PEPPER.
fn expected(key: &str, stored: &str, peppers: &[(String, Vec<u8>)]) -> Option<std::result::Result<bool, ()>> {
    let parts: Vec<&str> = stored.split('$').collect();
    let (pepper_id, digest) = match parts.as_slice() {
        ["sha256", h] => (None, *h),
        ["hmac-sha256", id, h] if !id.is_empty() => (Some(*id), *h),
        _ => return None,
    };
    if digest.len() != 64 || !digest.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
        return None;
    }
    if reference_parse(key).is_err() {
        return Some(Ok(false));
    }
    let computed = match pepper_id {
        None => sha256_hex(key),
        Some(id) => match peppers.iter().find(|(pid, _)| pid == id) {
            Some((_, secret)) => hmac_hex(secret, key),
            None => return Some(Err(())),
        },
    };
    Some(Ok(computed == digest))
}

fn arbitrary_text(u: &mut Unstructured) -> Result<String> {
    const IDS: &[&str] = &["p1", "p2", "P-_9"];
    Ok(match u.int_in_range(0..=3u8)? {
        0 => u.arbitrary()?,
        1 => arbitrary_key(u)?,
        2 => {
            let k = arbitrary_key(u)?;
            mutate(u, &k)?
        }
        _ => {
            let k = arbitrary_key(u)?;
            let h = if u.arbitrary()? {
                hash_key(&k, None).unwrap()
            } else {
                hash_key(&k, Some(&Pepper::new(u.choose(IDS)?, &[1; 16]).unwrap())).unwrap()
            };
            mutate(u, &h)?
        }
    })
}

fn arbitrary_pair(u: &mut Unstructured) -> Result<()> {
    const IDS: &[&str] = &["p1", "p2", "P-_9"];
    let key = arbitrary_text(u)?;
    let stored = if u.ratio(1, 4)? {
        // The real hash of this key, maybe under a pepper below.
        let pepper = Pepper::new(u.choose(IDS)?, &[1; 16]).unwrap();
        let h = hash_key(&key, if u.arbitrary()? { Some(&pepper) } else { None });
        match h {
            Ok(h) => h,
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Malformed);
                assert!(reference_parse(&key).is_err(), "hash_key refused the well-formed {key:?}");
                arbitrary_text(u)?
            }
        }
    } else {
        arbitrary_text(u)?
    };
    let mut peppers = Vec::new();
    for _ in 0..u.int_in_range(0..=3u8)? {
        let id = u.choose(IDS)?.to_string();
        let secret = if u.arbitrary()? { vec![1; 16] } else { arbitrary_secret(u)? };
        peppers.push((id, secret));
    }
    let list: Vec<Pepper> = peppers.iter().map(|(id, s)| Pepper::new(id, s).unwrap()).collect();
    let got = verify_hash(&key, &stored, &list);
    let want = expected(&key, &stored, &peppers);
    match (&got, want) {
        (Err(e), None) => assert_eq!(e.code(), ErrorCode::InvalidArgument, "{stored:?}: {e}"),
        (Err(e), Some(Err(()))) => assert_eq!(e.code(), ErrorCode::UnknownPepper, "{stored:?}: {e}"),
        (Ok(b), Some(Ok(w))) => assert_eq!(*b, w, "verify_hash({key:?}, {stored:?})"),
        _ => panic!("verify_hash({key:?}, {stored:?}, {peppers:?}) = {got:?}, expected {want:?}"),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = match u.int_in_range(0..=1u8) {
        Ok(0) => round_trip(&mut u),
        Ok(_) => arbitrary_pair(&mut u),
        Err(_) => Ok(()),
    };
});
