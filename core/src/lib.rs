//! Keyhouse: API keys with one audited core.
//!
//! - [`generate`], [`parse`], [`hash_key`] and [`verify_hash`] work without a
//!   store, for services that keep keys in their own database.
//! - [`Keyhouse`] is a store on SQLite or PostgreSQL that creates, verifies, lists,
//!   updates, revokes, rolls and deletes keys.
//!
//! Keys look like `acme_live_4fT9kQ2mZx7PbX_<secret><checksum>`; the format
//! is specified in `docs/key-format.md`.
//!
//! ```
//! use keyhouse::{Config, CreateOptions, Keyhouse, Outcome};
//!
//! let kh = Keyhouse::open_in_memory(Config::default())?;
//! let created = kh.create(CreateOptions {
//!     permissions: Some(vec!["files:*".into()]),
//!     ..Default::default()
//! })?;
//! let result = kh.verify(&created.key, &["files:read"], 1)?;
//! assert_eq!(result.outcome, Outcome::Valid);
//! # Ok::<(), keyhouse::Error>(())
//! ```
#![warn(missing_docs)]

mod base62;
pub mod cli;
mod config;
mod error;
pub mod format;
mod hashing;
mod model;
pub mod permissions;
mod ratelimit;
/// The clock and randomness a store uses, swappable for tests. Public only
/// with the `test-seams` feature, which test builds turn on; the packages a
/// release ships are built without it, so they do not carry the seams.
#[cfg(feature = "test-seams")]
pub mod seam;
#[cfg(not(feature = "test-seams"))]
mod seam;
pub mod self_service;
mod store;
mod time;
pub(crate) mod util;
mod verify;

pub use config::Config;
pub use error::{Error, ErrorCode, MalformedReason, Result};
pub use format::{generate, generate_with, parse, GeneratedKey, ParsedKey, KEY_REGEX};
pub use hashing::{hash_key, verify_hash, Pepper};
pub use model::{
    CreateOptions, CreatedKey, KeyInfo, KeyPage, ListOptions, Metadata, Outcome, RateLimit, RateLimitState, Refill,
    UpdateOptions, VerifyResult,
};
pub use store::sqlite::schema::SCHEMA_VERSION;
pub use store::{CopyReport, Keyhouse};
pub use time::{duration_millis, parse_duration, Timestamp, MAX_DURATION, MAX_TIMESTAMP, MIN_TIMESTAMP};
pub use util::redact_url;
