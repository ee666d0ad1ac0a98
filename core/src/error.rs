//! The one error type of the core, with stable string codes.
//!
//! Errors are for misuse and failures. The outcome of verifying a key, even a
//! bad one, is a value ([`crate::Outcome`]), never an error.

use std::fmt;

/// Why a string is not a well-formed v1 key. The codes are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MalformedReason {
    /// The input is empty.
    Empty,
    /// The input is longer than any v1 key can be.
    TooLong,
    /// A character outside `[0-9A-Za-z_]`, including any non-ASCII or NUL byte.
    InvalidCharacter,
    /// A `_` separator is missing.
    MissingSeparator,
    /// The prefix breaks the prefix rules (see `docs/key-format.md`).
    InvalidPrefix,
    /// The id part is not 14 base62 characters.
    InvalidId,
    /// The secret part has a length no secret size produces.
    InvalidSecretLength,
    /// The checksum does not match the rest of the key.
    ChecksumMismatch,
}

impl MalformedReason {
    /// Every reason, in declaration order.
    pub const ALL: [MalformedReason; 8] = [
        Self::Empty,
        Self::TooLong,
        Self::InvalidCharacter,
        Self::MissingSeparator,
        Self::InvalidPrefix,
        Self::InvalidId,
        Self::InvalidSecretLength,
        Self::ChecksumMismatch,
    ];

    /// The stable code, e.g. `CHECKSUM_MISMATCH`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Empty => "EMPTY",
            Self::TooLong => "TOO_LONG",
            Self::InvalidCharacter => "INVALID_CHARACTER",
            Self::MissingSeparator => "MISSING_SEPARATOR",
            Self::InvalidPrefix => "INVALID_PREFIX",
            Self::InvalidId => "INVALID_ID",
            Self::InvalidSecretLength => "INVALID_SECRET_LENGTH",
            Self::ChecksumMismatch => "CHECKSUM_MISMATCH",
        }
    }

    /// The reason with this stable code, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The stable code of an [`Error`], shared by every binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `MALFORMED`: the string is not a well-formed key.
    Malformed,
    /// `INVALID_ARGUMENT`: an argument is out of range or badly formed.
    InvalidArgument,
    /// `NOT_FOUND`: no key has this id.
    NotFound,
    /// `KEY_LIMIT_EXCEEDED`: the owner already has the maximum number of keys.
    KeyLimitExceeded,
    /// `UNKNOWN_PEPPER`: a stored hash names a pepper that is not configured.
    UnknownPepper,
    /// `SCHEMA_TOO_NEW`: the database was written by a newer Keyhouse.
    SchemaTooNew,
    /// `STORE_BUSY`: the database stayed locked past the busy timeout.
    StoreBusy,
    /// `STORE_ERROR`: the database failed or holds data Keyhouse cannot read.
    StoreError,
    /// `CLOSED`: the store was closed.
    Closed,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 9] = [
        Self::Malformed,
        Self::InvalidArgument,
        Self::NotFound,
        Self::KeyLimitExceeded,
        Self::UnknownPepper,
        Self::SchemaTooNew,
        Self::StoreBusy,
        Self::StoreError,
        Self::Closed,
    ];

    /// The stable string code, e.g. `NOT_FOUND`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "MALFORMED",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::NotFound => "NOT_FOUND",
            Self::KeyLimitExceeded => "KEY_LIMIT_EXCEEDED",
            Self::UnknownPepper => "UNKNOWN_PEPPER",
            Self::SchemaTooNew => "SCHEMA_TOO_NEW",
            Self::StoreBusy => "STORE_BUSY",
            Self::StoreError => "STORE_ERROR",
            Self::Closed => "CLOSED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in Keyhouse, apart from a key failing to verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The string is not a well-formed v1 key.
    #[error("malformed key: {0}")]
    Malformed(MalformedReason),
    /// An argument is out of range or badly formed; the message names it.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No key has this id.
    #[error("no key with id {0}")]
    NotFound(String),
    /// The owner already holds `limit` active keys.
    #[error("owner {owner_id:?} already has the maximum of {limit} active keys")]
    KeyLimitExceeded {
        /// The owner whose limit was reached.
        owner_id: String,
        /// The configured `max_keys_per_owner`.
        limit: u32,
    },
    /// A stored hash names a pepper id that is neither the current nor a previous pepper.
    #[error("stored hash uses pepper {0:?}, which is not configured")]
    UnknownPepper(String),
    /// The database schema is newer than this library understands.
    #[error("database schema version {found} is newer than the supported {supported}; upgrade Keyhouse")]
    SchemaTooNew {
        /// The version found in the file.
        found: i64,
        /// The newest version this library knows.
        supported: i64,
    },
    /// The database stayed locked by another connection past the busy timeout.
    #[error("database is busy: {0}")]
    StoreBusy(String),
    /// The database failed, or holds data Keyhouse cannot read.
    #[error("store error: {0}")]
    Store(String),
    /// The store was closed.
    #[error("the store is closed")]
    Closed,
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Malformed(_) => ErrorCode::Malformed,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::KeyLimitExceeded { .. } => ErrorCode::KeyLimitExceeded,
            Error::UnknownPepper(_) => ErrorCode::UnknownPepper,
            Error::SchemaTooNew { .. } => ErrorCode::SchemaTooNew,
            Error::StoreBusy(_) => ErrorCode::StoreBusy,
            Error::Store(_) => ErrorCode::StoreError,
            Error::Closed => ErrorCode::Closed,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode as Sql;
        match e.sqlite_error_code() {
            Some(Sql::DatabaseBusy | Sql::DatabaseLocked) => Error::StoreBusy(e.to_string()),
            _ => Error::Store(e.to_string()),
        }
    }
}

/// The result type of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
