//! The one mapping from core errors to the error the bindings throw:
//! `KeyhouseException` subclasses in Kotlin, `KeyhouseError` cases in Swift.

use crate::types::MalformedReason;

/// Everything that can go wrong, apart from a key failing to verify (an
/// outcome, not an error). Each case is one of the core's stable codes;
/// `code()` returns it as text, e.g. `NOT_FOUND`.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KeyhouseError {
    /// `MALFORMED`: the string is not a well-formed key; `reason` says why.
    #[error("{detail}")]
    Malformed {
        /// Why the key is malformed.
        reason: MalformedReason,
        /// A message for people.
        detail: String,
    },
    /// `INVALID_ARGUMENT`: an argument is out of range or badly formed.
    #[error("{detail}")]
    InvalidArgument {
        /// A message for people, naming the argument.
        detail: String,
    },
    /// `NOT_FOUND`: no key has this id.
    #[error("{detail}")]
    NotFound {
        /// A message for people.
        detail: String,
    },
    /// `KEY_LIMIT_EXCEEDED`: the owner already has the maximum number of keys.
    #[error("{detail}")]
    KeyLimitExceeded {
        /// A message for people.
        detail: String,
    },
    /// `UNKNOWN_PEPPER`: a stored hash names a pepper that is not configured.
    #[error("{detail}")]
    UnknownPepper {
        /// A message for people.
        detail: String,
    },
    /// `SCHEMA_TOO_NEW`: the database was written by a newer Keyhouse.
    #[error("{detail}")]
    SchemaTooNew {
        /// A message for people.
        detail: String,
    },
    /// `STORE_BUSY`: the database stayed locked past the busy timeout.
    #[error("{detail}")]
    StoreBusy {
        /// A message for people.
        detail: String,
    },
    /// `STORE_ERROR`: the database failed or holds data Keyhouse cannot read.
    #[error("{detail}")]
    StoreError {
        /// A message for people.
        detail: String,
    },
    /// `CLOSED`: the store was closed.
    #[error("{detail}")]
    Closed {
        /// A message for people.
        detail: String,
    },
}

#[uniffi::export]
impl KeyhouseError {
    /// The stable code, e.g. `NOT_FOUND`: the same in every language.
    pub fn code(&self) -> String {
        use keyhouse::ErrorCode as C;
        let code = match self {
            Self::Malformed { .. } => C::Malformed,
            Self::InvalidArgument { .. } => C::InvalidArgument,
            Self::NotFound { .. } => C::NotFound,
            Self::KeyLimitExceeded { .. } => C::KeyLimitExceeded,
            Self::UnknownPepper { .. } => C::UnknownPepper,
            Self::SchemaTooNew { .. } => C::SchemaTooNew,
            Self::StoreBusy { .. } => C::StoreBusy,
            Self::StoreError { .. } => C::StoreError,
            Self::Closed { .. } => C::Closed,
        };
        code.as_str().to_owned()
    }
}

impl From<keyhouse::Error> for KeyhouseError {
    fn from(e: keyhouse::Error) -> Self {
        use keyhouse::Error as E;
        let detail = e.to_string();
        match e {
            E::Malformed(reason) => Self::Malformed { reason: reason.into(), detail },
            E::InvalidArgument(_) => Self::InvalidArgument { detail },
            E::NotFound(_) => Self::NotFound { detail },
            E::KeyLimitExceeded { .. } => Self::KeyLimitExceeded { detail },
            E::UnknownPepper(_) => Self::UnknownPepper { detail },
            E::SchemaTooNew { .. } => Self::SchemaTooNew { detail },
            E::StoreBusy(_) => Self::StoreBusy { detail },
            E::Store(_) => Self::StoreError { detail },
            E::Closed => Self::Closed { detail },
            // The core's errors are non-exhaustive: one added there before it
            // is mapped here is still a failure, reported with its message.
            _ => Self::StoreError { detail },
        }
    }
}

/// An `INVALID_ARGUMENT` error found while converting arguments.
pub fn invalid(detail: impl Into<String>) -> KeyhouseError {
    KeyhouseError::from(keyhouse::Error::InvalidArgument(detail.into()))
}

/// The result type of every exported call.
pub type Result<T, E = KeyhouseError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_error_keeps_its_code() {
        use keyhouse::Error as E;
        let errors = [
            E::Malformed(keyhouse::MalformedReason::ChecksumMismatch),
            E::InvalidArgument("x".into()),
            E::NotFound("x".into()),
            E::KeyLimitExceeded { owner_id: "o".into(), limit: 1 },
            E::UnknownPepper("p".into()),
            E::SchemaTooNew { found: 9, supported: 1 },
            E::StoreBusy("x".into()),
            E::Store("x".into()),
            E::Closed,
        ];
        assert_eq!(errors.len(), keyhouse::ErrorCode::ALL.len());
        for e in errors {
            let (code, message) = (e.code().as_str(), e.to_string());
            let mapped = KeyhouseError::from(e);
            assert_eq!(mapped.code(), code);
            assert_eq!(mapped.to_string(), message);
        }
    }
}
