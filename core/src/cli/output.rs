//! How results are printed: a readable table, or JSON.

use std::fmt::Write;

use crate::{CreatedKey, KeyInfo, KeyPage, Timestamp, VerifyResult};
use serde_json::{json, Value};

/// A key's info as JSON. Times are RFC 3339, durations are seconds.
pub fn info_json(i: &KeyInfo) -> Value {
    let ts = |t: Option<Timestamp>| t.map(|t| t.to_string());
    json!({
        "id": i.id,
        "prefix": i.prefix,
        "owner_id": i.owner_id,
        "name": i.name,
        "permissions": i.permissions,
        "metadata": i.metadata,
        "enabled": i.enabled,
        "created_at": i.created_at.to_string(),
        "updated_at": i.updated_at.to_string(),
        "expires_at": ts(i.expires_at),
        "revoked_at": ts(i.revoked_at),
        "last_used_at": ts(i.last_used_at),
        "usage_count": i.usage_count,
        "remaining": i.remaining,
        "refill": i.refill.map(|r| json!({"amount": r.amount, "interval": r.interval.as_secs_f64()})),
        "last_refill_at": ts(i.last_refill_at),
        "rate_limit": i.rate_limit.map(|r| json!({"limit": r.limit, "window": r.window.as_secs_f64()})),
    })
}

/// The result of `verify` as JSON.
pub fn verify_json(r: &VerifyResult) -> Value {
    json!({
        "outcome": r.outcome.as_str(),
        "malformed_reason": r.malformed_reason.map(|m| m.code()),
        "retry_after": r.retry_after.map(|d| d.as_secs_f64()),
        "rate_limit": r.rate_limit.map(|s| json!({
            "limit": s.limit, "window": s.window.as_secs_f64(), "remaining": s.remaining, "reset_at": s.reset_at.to_string(),
        })),
        "key": r.key.as_ref().map(info_json),
    })
}

/// `create` and `roll`: the key, once. The caller warns on stderr that it
/// will not be shown again.
pub fn created(c: &CreatedKey, json: bool) -> String {
    if json {
        return format!("{}\n", json!({"key": c.key, "info": info_json(&c.info)}));
    }
    format!("{}\n{}", c.key, info(&c.info, false))
}

/// One key, as field/value lines or JSON.
pub fn info(i: &KeyInfo, json: bool) -> String {
    if json {
        return format!("{}\n", info_json(i));
    }
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let ts = |t: Option<Timestamp>| opt(t.map(|t| t.to_string()));
    let rows = [
        ("id", i.id.clone()),
        ("prefix", i.prefix.clone()),
        ("status", status(i)),
        ("owner", opt(i.owner_id.as_deref().map(printable))),
        ("name", opt(i.name.as_deref().map(printable))),
        ("permissions", if i.permissions.is_empty() { "-".into() } else { printable(&i.permissions.join(" ")) }),
        ("metadata", printable(&Value::Object(i.metadata.clone()).to_string())),
        ("created", i.created_at.to_string()),
        ("updated", i.updated_at.to_string()),
        ("expires", ts(i.expires_at)),
        ("revoked", ts(i.revoked_at)),
        ("last used", ts(i.last_used_at)),
        ("uses", i.usage_count.to_string()),
        ("remaining", opt(i.remaining.map(|r| r.to_string()))),
        ("refill", opt(i.refill.map(|r| format!("{} every {}", r.amount, secs(r.interval))))),
        ("rate limit", opt(i.rate_limit.map(|r| format!("{} per {}", r.limit, secs(r.window))))),
    ];
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<12} {v}");
    }
    out
}

/// A page of keys as a table, with the next cursor.
pub fn page(page: &KeyPage, json: bool) -> String {
    if json {
        let keys: Vec<Value> = page.keys.iter().map(info_json).collect();
        return format!("{}\n", json!({"keys": keys, "next_cursor": page.next_cursor}));
    }
    let header = ["ID", "PREFIX", "STATUS", "OWNER", "NAME", "EXPIRES", "USES"];
    let rows: Vec<[String; 7]> = page
        .keys
        .iter()
        .map(|i| {
            [
                i.id.clone(),
                i.prefix.clone(),
                status(i),
                i.owner_id.as_deref().map_or_else(|| "-".into(), printable),
                i.name.as_deref().map_or_else(|| "-".into(), printable),
                i.expires_at.map_or_else(|| "-".into(), |t| t.to_string()),
                i.usage_count.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].len()]).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    let _ = writeln!(out, "({} key{})", rows.len(), if rows.len() == 1 { "" } else { "s" });
    if let Some(c) = &page.next_cursor {
        let _ = writeln!(out, "next page: --cursor {c}");
    }
    out
}

/// The outcome of `verify`: its code first, then details.
pub fn verify(r: &VerifyResult, json: bool) -> String {
    if json {
        return format!("{}\n", verify_json(r));
    }
    let mut line = r.outcome.as_str().to_owned();
    if let Some(m) = r.malformed_reason {
        line.push_str(&format!(" ({})", m.code()));
    }
    if let Some(d) = r.retry_after {
        line.push_str(&format!(" retry after {}", secs(d)));
    }
    if let Some(k) = &r.key {
        line.push_str(&format!(" id={}", k.id));
        if let Some(rem) = k.remaining {
            line.push_str(&format!(" remaining={rem}"));
        }
    }
    if let Some(s) = &r.rate_limit {
        line.push_str(&format!(" rate_limit_remaining={}", s.remaining));
    }
    line.push('\n');
    line
}

fn status(i: &KeyInfo) -> String {
    let now = Timestamp::now();
    if i.revoked_at.is_some() {
        "revoked"
    } else if !i.enabled {
        "disabled"
    } else if i.expires_at.is_some_and(|t| t <= now) {
        "expired"
    } else {
        "active"
    }
    .into()
}

/// Text as it may appear in a table: control characters (newlines, ANSI
/// escapes) and the invisible marks that reorder text are shown escaped, so
/// a crafted name or owner cannot forge rows or recolour the terminal. JSON
/// output keeps every value exact.
pub fn printable(s: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if !s.chars().any(hidden) {
        return s.to_owned();
    }
    s.chars().map(|c| if hidden(c) { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn secs(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
