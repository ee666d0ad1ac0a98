//! Key ids as the keys of the maps a verify looks them up in (and the
//! prefix a cached row holds in place, see `KeyRow`).

use std::fmt;

/// The longest id held in place rather than on the heap. Keyhouse's own ids
/// are `format::ID_LEN` (14) characters.
const INLINE: usize = 22;

/// A key id as a map key: held in place when it is short, as every id
/// Keyhouse makes is, so that a lookup compares it without following a
/// pointer. With a million keys cached, that pointer is a cache miss on
/// every verify, and so is the usage map's. A longer id (only a row another
/// tool wrote can have one) goes on the heap, and so does a prefix of more
/// than 22 of its 32 characters: it is then compared through the pointer.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Id {
    /// `len` bytes of UTF-8, then zeros, so that equal ids compare equal.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap(Box<str>),
}

// Three words: no bigger than the `String` it replaces.
const _: () = assert!(std::mem::size_of::<Id>() == 24);

impl Id {
    pub(crate) fn new(id: &str) -> Id {
        if id.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            Id::Inline { len: id.len() as u8, bytes }
        } else {
            Id::Heap(id.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Only `new` makes an `Inline`, from the bytes of a `str`.
            Id::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
            Id::Heap(s) => s,
        }
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_text_and_compare_by_it() {
        let long = "x".repeat(INLINE + 1);
        for s in ["", "Ab3dEf6hIj9lMn", &"y".repeat(INLINE), &long, "ünï"] {
            assert_eq!(Id::new(s).as_str(), s);
            assert_eq!(Id::new(s), Id::new(s));
        }
        assert!(matches!(Id::new(&"y".repeat(INLINE)), Id::Inline { .. }));
        assert!(matches!(Id::new(&long), Id::Heap(_)));
        assert_ne!(Id::new("ab"), Id::new("ab\0"));
        assert_ne!(Id::new("ab"), Id::new("abc"));
    }
}
