//! Keyhouse for Swift and Kotlin, through UniFFI.
//!
//! This crate adds no logic of its own: it converts between the core's types
//! and UniFFI records, objects and enums, and maps the core's errors to one
//! error enum. The bindings are generated from the built library with
//! `uniffi-bindgen generate --library`.
//!
//! Times cross as [`Timestamp`] (`java.time.Instant`, `Date`) and durations
//! as [`TimeSpan`] (`java.time.Duration`, `TimeInterval`). Metadata crosses
//! as JSON object text: it may hold numbers, booleans and nested values, and
//! a map of strings would lose them, so that a key's metadata would read
//! differently from Kotlin than from Python or Node.

mod convert;
mod errors;
mod keys;
#[cfg(feature = "test-seams")]
mod seam;
mod stateless;
mod store;
mod types;

pub use errors::KeyhouseError;
pub use keys::{CreatedKey, GeneratedKey, Pepper};
#[cfg(feature = "test-seams")]
#[doc(hidden)]
pub use seam::{test_generate_from_bytes, test_open_with_clock, TestClock};
pub use stateless::{generate, hash_key, key_regex, parse, verify_hash};
pub use store::Keyhouse;
pub use types::{
    Config, CreateOptions, KeyInfo, KeyPage, ListOptions, MalformedReason, Outcome, ParsedKey, RateLimit,
    RateLimitState, Refill, TimeSpan, UpdateOptions, VerifyResult,
};

uniffi::setup_scaffolding!("keyhouse");
