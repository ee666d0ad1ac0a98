//! Argument checks shared by every backend: what the store accepts.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::{is_valid_id, parse_parts};
use crate::model::{Metadata, RateLimit, Refill};
use crate::Timestamp;

/// The longest name or owner id, in characters.
const MAX_TEXT_LEN: usize = 256;
/// The most requests a rate limit may allow per window.
pub(crate) const MAX_RATE_LIMIT: u32 = 1_000_000;
/// The longest rate-limit window or refill interval.
pub(crate) const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

/// Checks an id argument. The value is never quoted back: a caller who
/// passes a whole key where an id belongs would otherwise see its secret
/// in an error message, and in every log that records it.
pub(crate) fn check_id(id: &str) -> Result<()> {
    if is_valid_id(id) {
        return Ok(());
    }
    match parse_parts(id) {
        Ok(parts) => Err(Error::invalid(format!("this looks like a key, not an id; the id is {}", parts.id))),
        Err(_) => Err(Error::invalid(format!(
            "not a key id: an id is 14 base62 characters, got {} characters",
            id.chars().count()
        ))),
    }
}

/// Whether `t` is a time every binding can represent.
pub(crate) fn check_time(t: Timestamp) -> Result<()> {
    if t.in_range() {
        Ok(())
    } else {
        Err(Error::invalid(format!("time {} ms is outside 0001-01-01..9999-12-31", t.as_millis())))
    }
}

pub(crate) fn check_text(field: &str, value: &str) -> Result<()> {
    let n = value.chars().count();
    if n == 0 || n > MAX_TEXT_LEN || value.contains('\0') {
        return Err(Error::invalid(format!("{field} must be 1-{MAX_TEXT_LEN} characters without NUL")));
    }
    Ok(())
}

pub(crate) fn check_remaining(r: i64) -> Result<()> {
    if r < 0 {
        return Err(Error::invalid(format!("remaining must not be negative, got {r}")));
    }
    Ok(())
}

pub(crate) fn check_refill(r: &Refill) -> Result<()> {
    check_remaining(r.amount)?;
    if r.interval < Duration::from_millis(1) || r.interval > MAX_WINDOW {
        return Err(Error::invalid("refill interval must be between 1 ms and 366 days"));
    }
    Ok(())
}

pub(crate) fn check_rate_limit(rl: &RateLimit) -> Result<()> {
    if !(1..=MAX_RATE_LIMIT).contains(&rl.limit) {
        return Err(Error::invalid(format!("rate limit must be 1-{MAX_RATE_LIMIT} requests, got {}", rl.limit)));
    }
    if rl.window < Duration::from_millis(1) || rl.window > MAX_WINDOW {
        return Err(Error::invalid("rate-limit window must be between 1 ms and 366 days"));
    }
    Ok(())
}

pub(crate) fn dedup(perms: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    perms.into_iter().filter(|p| seen.insert(p.clone())).collect()
}

pub(crate) fn parse_cursor(c: &str) -> Result<(i64, String)> {
    let bad = || Error::invalid("cursor is not one returned by list");
    let (t, id) = c.split_once('.').ok_or_else(bad)?;
    let t = t.parse().map_err(|_| bad())?;
    if !is_valid_id(id) {
        return Err(bad());
    }
    Ok((t, id.to_owned()))
}

/// Ensures `metadata` fits the store's size bound, and reads back: the
/// store keeps it as JSON text and parses it for every read, and the JSON
/// parser refuses values nested 128 or more deep, which a map built in a
/// binding (a Python dict) can be.
pub(crate) fn validate_metadata(metadata: &Metadata) -> Result<()> {
    const MAX_METADATA_BYTES: usize = 16 * 1024;
    let Ok(text) = serde_json::to_string(metadata) else {
        return Err(Error::invalid("metadata cannot be written as JSON"));
    };
    if text.len() > MAX_METADATA_BYTES {
        let len = text.len();
        return Err(Error::invalid(format!("metadata is {len} bytes as JSON; the limit is {MAX_METADATA_BYTES}")));
    }
    if serde_json::from_str::<Metadata>(&text).is_err() {
        return Err(Error::invalid("metadata nests objects or arrays 128 or more deep"));
    }
    Ok(())
}
