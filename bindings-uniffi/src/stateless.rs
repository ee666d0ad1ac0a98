//! `generate`, `parse`, `hash_key` and `verify_hash`: keys without a store.

use std::sync::Arc;

use crate::convert::int;
use crate::errors::Result;
use crate::keys::{core_peppers, GeneratedKey, Pepper};
use crate::types::ParsedKey;

/// Generates a key: `secret_bytes` random bytes of secret (16–64), hashed
/// with `pepper` if given.
#[uniffi::export(default(prefix = "kh", secret_bytes = 32, pepper = None))]
pub fn generate(prefix: String, secret_bytes: i64, pepper: Option<Arc<Pepper>>) -> Result<Arc<GeneratedKey>> {
    let n = int("secret_bytes", secret_bytes)?;
    let inner = keyhouse::generate_with(&prefix, n, pepper.as_ref().map(|p| &p.inner))?;
    Ok(Arc::new(GeneratedKey { inner }))
}

/// The prefix and id of a well-formed key; throws MALFORMED (with its reason) otherwise.
#[uniffi::export]
pub fn parse(key: String) -> Result<ParsedKey> {
    Ok(keyhouse::parse(&key)?.into())
}

/// The tagged hash of a well-formed key: `sha256$…`, or `hmac-sha256$<id>$…` with a pepper.
#[uniffi::export(default(pepper = None))]
pub fn hash_key(key: String, pepper: Option<Arc<Pepper>>) -> Result<String> {
    Ok(keyhouse::hash_key(&key, pepper.as_ref().map(|p| &p.inner))?)
}

/// Whether `key` matches `stored_hash`, compared in constant time.
#[uniffi::export(default(peppers = []))]
pub fn verify_hash(key: String, stored_hash: String, peppers: Vec<Arc<Pepper>>) -> Result<bool> {
    Ok(keyhouse::verify_hash(&key, &stored_hash, &core_peppers(&peppers))?)
}

/// A regular expression that finds keys in text, for secret scanners.
#[uniffi::export]
pub fn key_regex() -> String {
    keyhouse::KEY_REGEX.to_owned()
}
