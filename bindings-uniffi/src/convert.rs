//! Checked conversions from binding input to core values. Every failure is
//! an INVALID_ARGUMENT that names the field.

use std::time::Duration;

use keyhouse::Metadata;

use crate::errors::{invalid, Result};
use crate::types::{RateLimit, Refill, TimeSpan};

/// A non-negative duration.
pub fn duration(field: &str, span: TimeSpan) -> Result<Duration> {
    u64::try_from(span.millis)
        .map(Duration::from_millis)
        .map_err(|_| invalid(format!("{field} must not be negative")))
}

/// An optional non-negative duration.
pub fn opt_duration(field: &str, span: Option<TimeSpan>) -> Result<Option<Duration>> {
    span.map(|s| duration(field, s)).transpose()
}

/// An integer in the range of `T`.
pub fn int<T: TryFrom<i64>>(field: &str, v: i64) -> Result<T> {
    T::try_from(v).map_err(|_| invalid(format!("{field} is out of range: {v}")))
}

/// Metadata from JSON object text.
pub fn metadata(json: &str) -> Result<Metadata> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("metadata must be a JSON object")),
        Err(e) => Err(invalid(format!("metadata is not valid JSON: {e}"))),
    }
}

/// Metadata as JSON object text.
pub fn metadata_text(m: Metadata) -> String {
    serde_json::Value::Object(m).to_string()
}

/// A core refill schedule.
pub fn refill(r: Refill) -> Result<keyhouse::Refill> {
    Ok(keyhouse::Refill { amount: r.amount, interval: duration("refill.interval", r.interval)? })
}

/// A core rate limit.
pub fn rate_limit(r: RateLimit) -> Result<keyhouse::RateLimit> {
    Ok(keyhouse::RateLimit { limit: int("rate_limit.limit", r.limit)?, window: duration("rate_limit.window", r.window)? })
}
