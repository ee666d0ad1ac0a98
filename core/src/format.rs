//! Key format v1: `<prefix>_<id>_<secret><checksum>`.
//!
//! See `docs/key-format.md` for the specification that ports and secret
//! scanners implement. Parsing works from the right, so prefixes may contain
//! `_` (`acme_live`).

use std::fmt;

use crate::base62;
use crate::error::{Error, MalformedReason, Result};
use crate::hashing::{hash_key_unchecked, Pepper};
use crate::seam::{OsRandom, RandomSource};

/// Random bytes in a key id (80 bits).
pub const ID_BYTES: usize = 10;
/// Characters in a key id.
pub const ID_LEN: usize = 14;
/// Characters in the checksum.
pub const CHECKSUM_LEN: usize = 6;
/// The longest prefix.
pub const MAX_PREFIX_LEN: usize = 32;
/// The fewest random bytes a secret may have.
pub const MIN_SECRET_BYTES: usize = 16;
/// The most random bytes a secret may have.
pub const MAX_SECRET_BYTES: usize = 64;
/// Random bytes in a secret unless configured otherwise.
pub const DEFAULT_SECRET_BYTES: usize = 32;
/// The prefix used when none is given.
pub const DEFAULT_PREFIX: &str = "kh";
/// The longest possible v1 key; anything longer is rejected before any other work.
pub const MAX_KEY_LEN: usize = MAX_PREFIX_LEN + 1 + ID_LEN + 1 + MAX_SECRET_LEN + CHECKSUM_LEN;
/// A string longer than any key, which parses as TOO_LONG. Bindings pass it in
/// place of an over-long argument, so a 10 MB string is never copied across
/// the FFI boundary only to be rejected by its length.
#[doc(hidden)]
pub const OVERSIZED_KEY: &str = concat!(
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
);
const _: () = assert!(OVERSIZED_KEY.len() > MAX_KEY_LEN);
/// A regular expression that matches any v1 key (and, rarely, look-alikes:
/// confirm a match with its checksum).
pub const KEY_REGEX: &str = r"\b[a-z][a-z0-9_]{0,31}_[0-9A-Za-z]{14}_[0-9A-Za-z]{28,92}\b";

const MAX_SECRET_LEN: usize = 86; // base62 width of 64 bytes

/// The base62 width of a secret of `MIN_SECRET_BYTES + i` bytes. A table, so
/// parsing stays a few nanoseconds; a test checks it against the exact rule.
const SECRET_WIDTHS: [u8; MAX_SECRET_BYTES - MIN_SECRET_BYTES + 1] = [
    22, 23, 25, 26, 27, 29, 30, 31, 33, 34, 35, 37, 38, 39, 41, 42, 43, 45, 46, 48, 49, 50, 52, 53, 54, 56, 57, 58, 60,
    61, 62, 64, 65, 66, 68, 69, 70, 72, 73, 74, 76, 77, 78, 80, 81, 82, 84, 85, 86,
];

/// The number of characters a secret of `secret_bytes` random bytes takes.
pub fn secret_len(secret_bytes: usize) -> usize {
    usize::from(SECRET_WIDTHS[secret_bytes - MIN_SECRET_BYTES])
}

/// A freshly generated key with its id and hash.
///
/// `Debug` never shows the plaintext key.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    /// The plaintext key. Hand it to its holder once; store only `hash`.
    pub key: String,
    /// The public key id.
    pub id: String,
    /// The prefix.
    pub prefix: String,
    /// The tagged hash to store.
    pub hash: String,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("key", &"<redacted>")
            .field("id", &self.id)
            .field("prefix", &self.prefix)
            .field("hash", &self.hash)
            .finish()
    }
}

/// The public parts of a well-formed key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedKey {
    /// The prefix, e.g. `acme_live`.
    pub prefix: String,
    /// The public key id.
    pub id: String,
}

/// Borrowed parts of a key, for the verify path, which must not allocate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyParts<'a> {
    pub prefix: &'a str,
    pub id: &'a str,
}

/// Generates a key with the default secret size and an unpeppered hash.
pub fn generate(prefix: &str) -> Result<GeneratedKey> {
    generate_with(prefix, DEFAULT_SECRET_BYTES, None)
}

/// Generates a key with `secret_bytes` random bytes of secret, hashed with
/// `pepper` when one is given.
pub fn generate_with(prefix: &str, secret_bytes: usize, pepper: Option<&Pepper>) -> Result<GeneratedKey> {
    generate_from(prefix, secret_bytes, pepper, &OsRandom)
}

/// [`generate_with`] drawing from `random`: the test seam, only in builds
/// with the `test-seams` feature.
#[cfg(feature = "test-seams")]
pub fn generate_with_random(
    prefix: &str,
    secret_bytes: usize,
    pepper: Option<&Pepper>,
    random: &dyn RandomSource,
) -> Result<GeneratedKey> {
    generate_from(prefix, secret_bytes, pepper, random)
}

/// [`generate_with`] drawing from `random`.
pub(crate) fn generate_from(
    prefix: &str,
    secret_bytes: usize,
    pepper: Option<&Pepper>,
    random: &dyn RandomSource,
) -> Result<GeneratedKey> {
    validate_prefix(prefix)?;
    validate_secret_bytes(secret_bytes)?;
    let mut bytes = [0u8; ID_BYTES + MAX_SECRET_BYTES];
    let bytes = &mut bytes[..ID_BYTES + secret_bytes];
    random.fill(bytes);
    let (id_bytes, secret) = bytes.split_at(ID_BYTES);
    let key = encode(prefix, id_bytes, secret);
    let id = key[prefix.len() + 1..prefix.len() + 1 + ID_LEN].to_owned();
    let hash = hash_key_unchecked(&key, pepper);
    Ok(GeneratedKey { key, id, prefix: prefix.to_owned(), hash })
}

/// Builds the key string from its raw parts. The caller has validated the
/// prefix and the lengths.
pub(crate) fn encode(prefix: &str, id_bytes: &[u8], secret: &[u8]) -> String {
    let mut key = String::with_capacity(MAX_KEY_LEN);
    key.push_str(prefix);
    key.push('_');
    base62::encode_bytes(id_bytes, ID_LEN, &mut key);
    key.push('_');
    base62::encode_bytes(secret, secret_len(secret.len()), &mut key);
    let crc = crc32fast::hash(key.as_bytes());
    base62::encode_u64(u64::from(crc), CHECKSUM_LEN, &mut key);
    key
}

/// Parses a key into its prefix and id, or says why it is malformed.
pub fn parse(key: &str) -> Result<ParsedKey> {
    let parts = parse_parts(key).map_err(Error::Malformed)?;
    Ok(ParsedKey { prefix: parts.prefix.to_owned(), id: parts.id.to_owned() })
}

pub(crate) fn parse_parts(key: &str) -> Result<KeyParts<'_>, MalformedReason> {
    let b = key.as_bytes();
    // The length bound comes first, so a huge input costs no more than a short one.
    if b.is_empty() {
        return Err(MalformedReason::Empty);
    }
    if b.len() > MAX_KEY_LEN {
        return Err(MalformedReason::TooLong);
    }
    // One pass checks every character and finds the last two separators.
    let (mut last, mut id_sep) = (None, None);
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            (id_sep, last) = (last, Some(i));
        } else if !c.is_ascii_alphanumeric() {
            return Err(MalformedReason::InvalidCharacter);
        }
    }
    let last = last.ok_or(MalformedReason::MissingSeparator)?;
    let id_sep = id_sep.ok_or(MalformedReason::MissingSeparator)?;
    let (head, tail) = (&b[..last], &b[last + 1..]);
    let (prefix, id) = (&head[..id_sep], &head[id_sep + 1..]);
    if id.len() != ID_LEN {
        return Err(MalformedReason::InvalidId);
    }
    if !is_valid_prefix(prefix) {
        return Err(MalformedReason::InvalidPrefix);
    }
    let secret_len = tail.len().checked_sub(CHECKSUM_LEN).ok_or(MalformedReason::InvalidSecretLength)?;
    if !is_secret_len(secret_len) {
        return Err(MalformedReason::InvalidSecretLength);
    }
    let (body, checksum) = b.split_at(b.len() - CHECKSUM_LEN);
    if base62::decode_u64(checksum) != Some(u64::from(crc32fast::hash(body))) {
        return Err(MalformedReason::ChecksumMismatch);
    }
    // All bytes are ASCII, so these slices fall on char boundaries.
    Ok(KeyParts { prefix: &key[..id_sep], id: &key[id_sep + 1..last] })
}

fn is_secret_len(len: usize) -> bool {
    u8::try_from(len).is_ok_and(|len| SECRET_WIDTHS.binary_search(&len).is_ok())
}

fn is_valid_prefix(p: &[u8]) -> bool {
    !p.is_empty()
        && p.len() <= MAX_PREFIX_LEN
        && p[0].is_ascii_lowercase()
        && p[p.len() - 1] != b'_'
        && !p.windows(2).any(|w| w == b"__")
        && p.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Checks a prefix against the v1 rules: 1–32 of `[a-z0-9_]`, starting with a
/// letter, not ending with `_`, with no `__`.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if is_valid_prefix(prefix.as_bytes()) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "prefix {:?} must be 1-32 characters of [a-z0-9_], start with a letter, not end with '_' and contain no '__'",
            crate::util::clip(prefix)
        )))
    }
}

pub(crate) fn validate_secret_bytes(n: usize) -> Result<()> {
    if (MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&n) {
        Ok(())
    } else {
        Err(Error::invalid(format!("secret_bytes must be {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES}, got {n}")))
    }
}

/// Whether `id` has the shape of a key id (14 base62 characters).
pub fn is_valid_id(id: &str) -> bool {
    id.len() == ID_LEN && base62::is_base62(id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_lengths_span_the_allowed_sizes() {
        for n in MIN_SECRET_BYTES..=MAX_SECRET_BYTES {
            assert_eq!(secret_len(n), base62::width_for_bytes(n), "n={n}");
        }
        assert_eq!(base62::width_for_bytes(MIN_SECRET_BYTES), 22);
        assert_eq!(base62::width_for_bytes(MAX_SECRET_BYTES), MAX_SECRET_LEN);
        assert_eq!(MAX_KEY_LEN, 140);
    }

    #[test]
    fn parses_from_the_right() {
        let g = generate("acme_live").unwrap();
        let p = parse(&g.key).unwrap();
        assert_eq!(p.prefix, "acme_live");
        assert_eq!(p.id, g.id);
        assert_eq!(g.key.len(), "acme_live".len() + 1 + ID_LEN + 1 + 43 + CHECKSUM_LEN);
    }

    #[test]
    fn every_secret_size_round_trips() {
        for n in MIN_SECRET_BYTES..=MAX_SECRET_BYTES {
            let g = generate_with("t", n, None).unwrap();
            assert_eq!(parse(&g.key).unwrap().id, g.id, "n={n}");
        }
    }

    #[test]
    fn the_oversized_stand_in_is_too_long() {
        assert_eq!(parse(OVERSIZED_KEY).unwrap_err().code().as_str(), "MALFORMED");
        assert_eq!(parse_parts(OVERSIZED_KEY).unwrap_err(), MalformedReason::TooLong);
    }

    #[test]
    fn debug_hides_the_key() {
        let g = generate("acme").unwrap();
        assert!(!format!("{g:?}").contains(&g.key));
    }

    #[test]
    fn rejects_bad_prefixes_and_sizes() {
        for p in ["", "1abc", "Acme", "acme_", "ac__me", "a-b", &"a".repeat(33)] {
            assert!(generate(p).is_err(), "{p:?}");
        }
        assert!(generate(&"a".repeat(32)).is_ok());
        assert!(generate_with("a", 15, None).is_err());
        assert!(generate_with("a", 65, None).is_err());
    }
}
