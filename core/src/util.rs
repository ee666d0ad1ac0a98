//! Small helpers shared by several modules.

/// At most the first 64 characters of `s`, for echoing user input in error
/// messages without copying a megabyte of it.
pub(crate) fn clip(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
