//! Small helpers shared by several modules.

/// At most the first 24 characters of `s`, for echoing user input in error
/// messages without copying a megabyte of it; nothing of it if it is a key
/// passed by mistake. A key with a typo is clipped like any other input,
/// which shows at most a few characters of its secret (a key's prefix,
/// separators and id take at least 17, its secret at least 22).
pub(crate) fn clip(s: &str) -> &str {
    if crate::format::parse_parts(s).is_ok() {
        return "(a key: not shown)";
    }
    match s.char_indices().nth(24) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
