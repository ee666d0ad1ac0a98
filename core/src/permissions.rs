//! Permission strings and wildcard grants.
//!
//! A permission is a `:`-separated string such as `files:read`. A grant of
//! `files:*` covers every permission under `files:`, and `*` covers all.

use crate::error::{Error, Result};

const MAX_PERMISSION_LEN: usize = 128;
const MAX_PERMISSIONS: usize = 256;

/// Whether the granted permissions cover every required one.
pub fn covers_all(granted: &[String], required: &[&str]) -> bool {
    required.iter().all(|r| granted.iter().any(|g| covers(g, r)))
}

/// Whether one grant covers one requested permission.
pub fn covers(grant: &str, request: &str) -> bool {
    if grant == request || grant == "*" {
        return true;
    }
    match grant.strip_suffix('*') {
        // `files:*` covers `files:read` and `files:read:x`, but not `files` itself.
        Some(scope) => request.len() > scope.len() && request.starts_with(scope),
        None => false,
    }
}

/// Checks permissions to be granted: each is 1–128 printable ASCII characters
/// without spaces, and `*` may only stand as the whole last segment.
pub fn validate_grants(perms: &[String]) -> Result<()> {
    if perms.len() > MAX_PERMISSIONS {
        return Err(Error::invalid(format!("at most {MAX_PERMISSIONS} permissions per key")));
    }
    perms.iter().try_for_each(|p| validate(p, true))
}

/// Checks permissions a verification requires; wildcards are not allowed here.
pub fn validate_required(perms: &[&str]) -> Result<()> {
    if perms.len() > MAX_PERMISSIONS {
        return Err(Error::invalid(format!("at most {MAX_PERMISSIONS} permissions per request")));
    }
    perms.iter().try_for_each(|p| validate(p, false))
}

fn validate(p: &str, allow_wildcard: bool) -> Result<()> {
    let shape_ok = !p.is_empty()
        && p.len() <= MAX_PERMISSION_LEN
        && p.bytes().all(|c| c.is_ascii_graphic())
        && p.split(':').all(|seg| !seg.is_empty());
    if !shape_ok {
        return Err(Error::invalid(format!(
            "permission {:?} must be 1-{MAX_PERMISSION_LEN} printable ASCII characters without spaces or empty ':' segments",
            crate::util::clip(p)
        )));
    }
    if let Some(pos) = p.find('*') {
        let last_segment_is_star = pos == p.len() - 1 && (p == "*" || p.ends_with(":*"));
        if !allow_wildcard || !last_segment_is_star {
            return Err(Error::invalid(format!(
                "permission {:?}: '*' may only appear as the whole last segment of a granted permission",
                crate::util::clip(p)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(covers("*", "files:read"));
        assert!(covers("files:*", "files:read"));
        assert!(covers("files:*", "files:read:own"));
        assert!(!covers("files:*", "files"));
        assert!(!covers("files:*", "filesystem:read"));
        assert!(!covers("files:read", "files:write"));
        assert!(covers_all(&["a:b".into(), "c:*".into()], &["a:b", "c:d"]));
        assert!(!covers_all(&["a:b".into()], &["a:b", "c:d"]));
        assert!(covers_all(&[], &[]));
    }

    #[test]
    fn validation() {
        assert!(validate_grants(&["files:*".into(), "*".into(), "a.b-c/d".into()]).is_ok());
        for bad in ["", "a b", "fi*les", "*:read", "files:", ":x", "a::b", "é"] {
            assert!(validate_grants(&[bad.into()]).is_err(), "{bad:?}");
        }
        assert!(validate_required(&["files:*"]).is_err());
        assert!(validate_required(&["files:read"]).is_ok());
    }
}
