//! Small helpers shared by several modules.

/// At most the first 24 characters of `s`, for echoing user input in error
/// messages without copying a megabyte of it. Short enough that a key passed
/// by mistake never shows more than a few characters of its secret (a key's
/// prefix, separators and id take at least 17, its secret at least 22).
pub(crate) fn clip(s: &str) -> &str {
    match s.char_indices().nth(24) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
