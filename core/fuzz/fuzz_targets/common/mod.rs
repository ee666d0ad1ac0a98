//! Helpers shared by the fuzz targets: an independent implementation of key
//! format v1, written from docs/key-format.md (not from core/src/format.rs),
//! used as the oracle the core is checked against.
#![allow(dead_code)]

use keyhouse::MalformedReason;
use libfuzzer_sys::arbitrary::{Result, Unstructured};

pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const ID_LEN: usize = 14;
pub const CHECKSUM_LEN: usize = 6;
pub const MAX_KEY_LEN: usize = 140;
pub const MAX_PREFIX_LEN: usize = 32;

/// `value` as exactly `width` base62 digits, most significant first.
pub fn b62(mut value: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    assert_eq!(value, 0, "value does not fit in {width} digits");
    String::from_utf8(out).unwrap()
}

/// The checksum of `body`: CRC-32 (IEEE) as 6 base62 digits.
pub fn checksum(body: &str) -> String {
    b62(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_LEN)
}

/// `body` with its checksum appended.
pub fn with_checksum(body: &str) -> String {
    let mut key = body.to_owned();
    key.push_str(&checksum(body));
    key
}

/// The smallest L with 62^L >= 256^n, computed exactly on a little bignum:
/// 62^L >= 256^n  <=>  bit length of 62^L > 8n (62^L is never a power of two).
pub fn width_for_bytes(n: usize) -> usize {
    let mut power: Vec<u32> = vec![1]; // little-endian base 2^16 limbs
    let mut width = 0;
    loop {
        let top = power.len() - 1;
        let bits = top * 16 + (32 - power[top].leading_zeros() as usize);
        if bits > 8 * n {
            return width;
        }
        let mut carry = 0u32;
        for limb in power.iter_mut() {
            let v = *limb * 62 + carry;
            *limb = v & 0xFFFF;
            carry = v >> 16;
        }
        if carry > 0 {
            power.push(carry);
        }
        width += 1;
    }
}

/// Every secret length some secret size (16-64 bytes) produces.
pub fn secret_widths() -> &'static [usize] {
    static W: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    W.get_or_init(|| (16..=64).map(width_for_bytes).collect())
}

pub fn valid_prefix(p: &str) -> bool {
    let b = p.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_PREFIX_LEN
        && b[0].is_ascii_lowercase()
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        && !p.ends_with('_')
        && !p.contains("__")
}

/// docs/key-format.md, "Parsing", step by step.
pub fn reference_parse(key: &str) -> std::result::Result<(&str, &str), MalformedReason> {
    if key.is_empty() {
        return Err(MalformedReason::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(MalformedReason::TooLong);
    }
    if !key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return Err(MalformedReason::InvalidCharacter);
    }
    let (head, tail) = key.rsplit_once('_').ok_or(MalformedReason::MissingSeparator)?;
    let (prefix, id) = head.rsplit_once('_').ok_or(MalformedReason::MissingSeparator)?;
    if id.len() != ID_LEN {
        return Err(MalformedReason::InvalidId);
    }
    if !valid_prefix(prefix) {
        return Err(MalformedReason::InvalidPrefix);
    }
    if tail.len() < CHECKSUM_LEN || !secret_widths().contains(&(tail.len() - CHECKSUM_LEN)) {
        return Err(MalformedReason::InvalidSecretLength);
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_LEN);
    if checksum(body) != sum {
        return Err(MalformedReason::ChecksumMismatch);
    }
    Ok((prefix, id))
}

/// A valid prefix built from fuzz input.
pub fn arbitrary_prefix(u: &mut Unstructured) -> Result<String> {
    const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let len = u.int_in_range(1..=MAX_PREFIX_LEN)?;
    let mut p = vec![*u.choose(FIRST)?];
    while p.len() < len {
        let c = *u.choose(REST)?;
        if c == b'_' && (p.last() == Some(&b'_') || p.len() + 1 == len) {
            continue_with_letter(&mut p, u)?;
        } else {
            p.push(c);
        }
    }
    let p = String::from_utf8(p).unwrap();
    debug_assert!(valid_prefix(&p), "{p:?}");
    Ok(p)
}

fn continue_with_letter(p: &mut Vec<u8>, u: &mut Unstructured) -> Result<()> {
    p.push(*u.choose(b"abcdefghijklmnopqrstuvwxyz0123456789")?);
    Ok(())
}

/// `n` base62 characters from fuzz input.
pub fn arbitrary_base62(u: &mut Unstructured, n: usize) -> Result<String> {
    (0..n).map(|_| u.choose(ALPHABET).map(|&c| c as char)).collect()
}

/// A well-formed v1 key built from fuzz input (any prefix, id and secret size).
pub fn arbitrary_key(u: &mut Unstructured) -> Result<String> {
    let prefix = arbitrary_prefix(u)?;
    let id = arbitrary_base62(u, ID_LEN)?;
    let width = *u.choose(secret_widths())?;
    let secret = arbitrary_base62(u, width)?;
    Ok(with_checksum(&format!("{prefix}_{id}_{secret}")))
}

/// Lossy UTF-8 view of fuzz bytes: valid UTF-8 as is, anything else via
/// `from_utf8_lossy`, so non-UTF-8 input still reaches the parsers.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Applies a few byte-level edits (replace, insert, delete, truncate, case
/// flip) to `s`, keeping it valid UTF-8.
pub fn mutate(u: &mut Unstructured, s: &str) -> Result<String> {
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_ -$\0\n";
    let mut b: Vec<char> = s.chars().collect();
    let edits = u.int_in_range(0..=3u8)?;
    for _ in 0..edits {
        let op = u.int_in_range(0..=5u8)?;
        let pos = if b.is_empty() { 0 } else { u.int_in_range(0..=b.len() - 1)? };
        let c = if u.ratio(1, 8)? { u.arbitrary::<char>()? } else { *u.choose(CHARS)? as char };
        match op {
            0 if !b.is_empty() => b[pos] = c,
            1 => b.insert(pos.min(b.len()), c),
            2 if !b.is_empty() => {
                b.remove(pos);
            }
            3 => b.truncate(pos),
            4 if !b.is_empty() => {
                let ch = b[pos];
                b[pos] = if ch.is_ascii_lowercase() { ch.to_ascii_uppercase() } else { ch.to_ascii_lowercase() };
            }
            _ => b.push(c),
        }
    }
    Ok(b.into_iter().collect())
}
