//! Key hashing: SHA-256, or HMAC-SHA256 with a server-side pepper.
//!
//! Stored hashes carry their algorithm (and pepper id) as a tag, so a change of
//! algorithm or pepper can migrate keys as they are used:
//!
//! - `sha256$<64 hex>`
//! - `hmac-sha256$<pepper id>$<64 hex>`
//!
//! Keys hold at least 128 random bits, so a fast hash is enough; a slow
//! password hash would only make verify slow.

use std::fmt;
use std::ops::Range;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::format::parse_parts;
use crate::store::id::Id;

const SHA256_TAG: &str = "sha256";
const HMAC_TAG: &str = "hmac-sha256";
const MIN_PEPPER_BYTES: usize = 16;

/// A server-side secret mixed into every hash (HMAC key), named by an id so
/// that stored hashes say which pepper made them.
///
/// `Debug` shows the id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Pepper {
    id: String,
    secret: Vec<u8>,
}

impl Pepper {
    /// A pepper named `id` (1–32 of `[A-Za-z0-9_-]`) with at least 16 bytes of secret.
    pub fn new(id: &str, secret: &[u8]) -> Result<Self> {
        let id_ok =
            !id.is_empty() && id.len() <= 32 && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        if !id_ok {
            return Err(Error::invalid("pepper id must be 1-32 characters of [A-Za-z0-9_-]"));
        }
        if secret.len() < MIN_PEPPER_BYTES {
            return Err(Error::invalid(format!("pepper secret must be at least {MIN_PEPPER_BYTES} bytes")));
        }
        Ok(Pepper { id: id.to_owned(), secret: secret.to_vec() })
    }

    /// The pepper's id, as written into hash tags.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// Hashes a well-formed key: `sha256$…`, or `hmac-sha256$<id>$…` with a pepper.
pub fn hash_key(key: &str, pepper: Option<&Pepper>) -> Result<String> {
    parse_parts(key).map_err(Error::Malformed)?;
    Ok(hash_key_unchecked(key, pepper))
}

/// Checks `key` against a stored hash in constant time. A malformed key simply
/// does not match; a malformed stored hash, or one made with a pepper not in
/// `peppers`, is an error.
pub fn verify_hash(key: &str, stored_hash: &str, peppers: &[Pepper]) -> Result<bool> {
    let stored = StoredHash::parse(stored_hash)?;
    if parse_parts(key).is_err() {
        return Ok(false);
    }
    stored.matches(key, peppers)
}

pub(crate) fn hash_key_unchecked(key: &str, pepper: Option<&Pepper>) -> String {
    stored_text(pepper.map(Pepper::id), &digest(key, pepper))
}

/// A stored hash's text: `sha256$<hex>`, or `hmac-sha256$<pepper id>$<hex>`.
fn stored_text(pepper_id: Option<&str>, digest: &[u8; 32]) -> String {
    match pepper_id {
        None => format!("{SHA256_TAG}${}", hex(digest)),
        Some(id) => format!("{HMAC_TAG}${id}${}", hex(digest)),
    }
}

fn digest(key: &str, pepper: Option<&Pepper>) -> [u8; 32] {
    match pepper {
        None => Sha256::digest(key.as_bytes()).into(),
        Some(p) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(&p.secret).expect("HMAC takes keys of any length");
            mac.update(key.as_bytes());
            mac.finalize().into_bytes().into()
        }
    }
}

/// A stored hash split into its tag and digest.
pub(crate) struct StoredHash<'a> {
    pepper_id: Option<&'a str>,
    digest: [u8; 32],
}

impl<'a> StoredHash<'a> {
    pub(crate) fn parse(s: &'a str) -> Result<Self> {
        let (pepper, digest) = split_stored(s).ok_or_else(not_a_stored_hash)?;
        Ok(StoredHash { pepper_id: pepper.map(|r| &s[r]), digest })
    }

    /// The id of the pepper this hash was made with, if any.
    pub(crate) fn pepper_id(&self) -> Option<&'a str> {
        self.pepper_id
    }

    /// Constant-time comparison of `key`'s digest with this one.
    pub(crate) fn matches(&self, key: &str, peppers: &[Pepper]) -> Result<bool> {
        let pepper = match self.pepper_id {
            None => None,
            Some(id) => Some(peppers.iter().find(|p| p.id == id).ok_or_else(|| Error::UnknownPepper(id.to_owned()))?),
        };
        Ok(bool::from(digest(key, pepper).ct_eq(&self.digest)))
    }
}

fn not_a_stored_hash() -> Error {
    Error::invalid("stored hash is not in the form sha256$<hex> or hmac-sha256$<pepper id>$<hex>")
}

/// The place of the pepper id in a stored hash, if it has one, and the digest.
fn split_stored(s: &str) -> Option<(Option<Range<usize>>, [u8; 32])> {
    let mut parts = s.split('$');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(SHA256_TAG), Some(h), None, None) => Some((None, unhex(h)?)),
        (Some(HMAC_TAG), Some(id), Some(h), None) if !id.is_empty() => {
            let start = HMAC_TAG.len() + 1;
            Some((Some(start..start + id.len()), unhex(h)?))
        }
        _ => None,
    }
}

/// A stored hash as a row holds it: decoded once, when the row is read. A
/// verify answered from memory then compares digests without parsing the
/// text again; with a million keys cached, the text is a cache miss of its
/// own on every verify. For the same reason the pepper id is copied into
/// the row itself (an `Id` holds up to 22 characters in place).
///
/// A hash in Keyhouse's form keeps no text: `text` rebuilds it exactly
/// (the digest's hex is lowercase, the only case `split_stored` accepts),
/// which saves a cached row the text's allocation, about 100 bytes. Any
/// other text, which only another tool can have written, is kept as it is,
/// to be written back unchanged and refused by `stored`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RowHash {
    Decoded { pepper_id: Option<Id>, digest: [u8; 32] },
    Other(String),
}

impl RowHash {
    pub(crate) fn new(text: String) -> Self {
        match split_stored(&text) {
            Some((pepper, digest)) => {
                let hash = RowHash::Decoded { pepper_id: pepper.map(|r| Id::new(&text[r])), digest };
                debug_assert_eq!(hash.text(), text);
                hash
            }
            None => RowHash::Other(text),
        }
    }

    /// The hash as stored: the text `new` was given.
    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            RowHash::Decoded { pepper_id, digest } => stored_text(pepper_id.as_ref().map(Id::as_str), digest).into(),
            RowHash::Other(text) => text.as_str().into(),
        }
    }

    /// The hash's parts, as `StoredHash::parse` of the text gives them.
    pub(crate) fn stored(&self) -> Result<StoredHash<'_>> {
        match self {
            RowHash::Decoded { pepper_id, digest } => {
                Ok(StoredHash { pepper_id: pepper_id.as_ref().map(Id::as_str), digest: *digest })
            }
            RowHash::Other(_) => Err(not_a_stored_hash()),
        }
    }
}

/// Decodes exactly 64 lowercase hex digits.
fn unhex(s: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

fn hex(digest: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for &b in digest {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xF)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::generate;

    #[test]
    fn known_sha256() {
        assert_eq!(
            hash_key_unchecked("abc", None),
            "sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn round_trips_with_and_without_pepper() {
        let g = generate("acme").unwrap();
        let p = Pepper::new("p1", &[7; 32]).unwrap();
        let plain = hash_key(&g.key, None).unwrap();
        let peppered = hash_key(&g.key, Some(&p)).unwrap();
        assert!(peppered.starts_with("hmac-sha256$p1$"));
        assert!(verify_hash(&g.key, &plain, &[]).unwrap());
        assert!(verify_hash(&g.key, &peppered, std::slice::from_ref(&p)).unwrap());
        let other = generate("acme").unwrap();
        assert!(!verify_hash(&other.key, &plain, &[]).unwrap());
        assert!(!verify_hash("garbage", &plain, &[]).unwrap());
        assert_eq!(verify_hash(&g.key, &peppered, &[]).unwrap_err().code().as_str(), "UNKNOWN_PEPPER");
        assert!(verify_hash(&g.key, "md5$abc", &[]).is_err());
        let upper = plain.to_uppercase().replace("SHA256", "sha256");
        assert!(verify_hash(&g.key, &upper, &[]).is_err(), "hex digits are lowercase");
        assert!(verify_hash(&g.key, &plain[..plain.len() - 1], &[]).is_err());
        assert!(format!("{p:?}").contains("redacted"));
    }

    #[test]
    fn a_row_hash_decodes_as_parse_does() {
        let g = generate("acme").unwrap();
        // A short pepper id is copied into the row in place; one of the
        // longest allowed (32 characters) goes on the heap.
        for p in [Pepper::new("p1", &[7; 32]).unwrap(), Pepper::new(&"q".repeat(32), &[8; 32]).unwrap()] {
            for text in [hash_key(&g.key, None).unwrap(), hash_key(&g.key, Some(&p)).unwrap()] {
                let (row, parsed) = (RowHash::new(text.clone()), StoredHash::parse(&text).unwrap());
                let stored = row.stored().unwrap();
                assert_eq!((stored.pepper_id, stored.digest), (parsed.pepper_id, parsed.digest));
                assert!(stored.matches(&g.key, std::slice::from_ref(&p)).unwrap());
                assert_eq!(row.text(), text);
                assert!(matches!(row, RowHash::Decoded { .. }), "no text kept");
            }
        }
        let bad = "hmac-sha256$p1$x";
        let message = |r: Result<StoredHash<'_>>| r.err().map(|e| e.to_string());
        assert!(message(RowHash::new(bad.into()).stored()).is_some());
        assert_eq!(message(RowHash::new(bad.into()).stored()), message(StoredHash::parse(bad)));
        // Text another tool wrote, in no form Keyhouse reads (upper-case
        // hex among them), is written back as it was.
        let upper = hash_key(&g.key, None).unwrap().to_uppercase().replace("SHA256", "sha256");
        for other in [bad, upper.as_str(), "", "sha256$", "hmac-sha256$$00"] {
            assert_eq!(RowHash::new(other.into()).text(), other);
        }
    }
}
