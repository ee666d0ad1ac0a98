//! Checked conversions from binding input to core values. Every failure is
//! an INVALID_ARGUMENT that names the field.

use std::time::Duration;

use keyhouse::Metadata;

use crate::errors::{invalid, Result};
use crate::types::{RateLimit, Refill, TimeSpan};

/// A non-negative duration.
pub fn duration(field: &str, span: TimeSpan) -> Result<Duration> {
    u64::try_from(span.millis).map(Duration::from_millis).map_err(|_| invalid(format!("{field} must not be negative")))
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
    Ok(keyhouse::RateLimit {
        limit: int("rate_limit.limit", r.limit)?,
        window: duration("rate_limit.window", r.window)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::KeyhouseError;

    fn is_invalid<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(KeyhouseError::InvalidArgument { .. }))
    }

    #[test]
    fn durations_must_not_be_negative() {
        assert_eq!(duration("d", TimeSpan { millis: 1500 }).unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("d", TimeSpan { millis: 0 }).unwrap(), Duration::ZERO);
        assert!(is_invalid(duration("d", TimeSpan { millis: -1 })));
        assert!(is_invalid(duration("d", TimeSpan { millis: i64::MIN })));
        assert_eq!(TimeSpan::from(Duration::MAX).millis, i64::MAX);
    }

    #[test]
    fn integers_must_fit() {
        assert_eq!(int::<u32>("n", 7).unwrap(), 7);
        assert!(is_invalid(int::<u32>("n", -1)));
        assert!(is_invalid(int::<u32>("n", 1 << 40)));
    }

    #[test]
    fn metadata_is_a_json_object() {
        let m = metadata(r#"{"a":1,"b":[true,null],"c":{"d":"e"}}"#).unwrap();
        assert_eq!(metadata(&metadata_text(m.clone())).unwrap(), m);
        for bad in ["", "[]", "1", "null", "{", "\"x\""] {
            assert!(is_invalid(metadata(bad)), "{bad}");
        }
    }
}
