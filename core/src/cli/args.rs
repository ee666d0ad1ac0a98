//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use crate::{parse_duration, Timestamp};
use clap::{Args, Parser, Subcommand};

/// Keyhouse: create, verify and manage API keys in a SQLite file or a PostgreSQL database.
#[derive(Debug, Parser)]
#[command(name = "keyhouse", version)]
pub struct Cli {
    /// The store: a SQLite file, or a postgres:// URL.
    // hide_env_values: the URL in KEYHOUSE_DB may hold a password, and
    // --help would print it.
    #[arg(long, global = true, env = "KEYHOUSE_DB", hide_env_values = true, default_value = "keyhouse.db")]
    pub db: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a key and print it once.
    Create(CreateArgs),
    /// Verify a key; exits 0 only when it is VALID.
    Verify(VerifyArgs),
    /// List keys, oldest first.
    List(ListArgs),
    /// Show one key.
    Show(IdArg),
    /// Change a key's settings.
    Update(UpdateArgs),
    /// Revoke a key (it stays listed as revoked).
    Revoke(IdArg),
    /// Issue a new key with the same settings; the old one expires after a grace period.
    Roll(RollArgs),
    /// Delete a key for good.
    Delete(IdArg),
    /// Delete every expired key.
    PurgeExpired,
    /// Bring the store's schema up to date, and nothing else (for a role
    /// that may run DDL, before app servers whose role may not).
    Migrate,
    /// Copy every key (hash, settings, limits, usage) from one store to
    /// another; keys already there are left alone, so a re-run copies only new ones.
    Copy(CopyArgs),
}

/// Options of `copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store to copy from: a SQLite file or a postgres:// URL.
    #[arg(long)]
    pub from: PathBuf,
    /// The store to copy into.
    #[arg(long)]
    pub to: PathBuf,
}

/// A key id.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The key id (the part after the prefix).
    pub id: String,
}

/// Options of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Owner id, e.g. a user or team.
    #[arg(long)]
    pub owner: Option<String>,
    /// A name for people.
    #[arg(long)]
    pub name: Option<String>,
    /// Key prefix, e.g. acme_live.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Expire after this long (e.g. 3600, 90s, 15m, 12h, 30d).
    #[arg(long, value_parser = parse_duration, conflicts_with = "expires_at")]
    pub expires_in: Option<Duration>,
    /// Expire at this time (RFC 3339 UTC, e.g. 2027-01-01T00:00:00Z).
    #[arg(long)]
    pub expires_at: Option<Timestamp>,
    /// A granted permission; repeat for more (files:read, files:*, *).
    #[arg(long = "permission")]
    pub permissions: Vec<String>,
    /// Metadata as a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Credits; unset means unlimited.
    #[arg(long)]
    pub remaining: Option<i64>,
    #[command(flatten)]
    pub refill: RefillArgs,
    #[command(flatten)]
    pub rate_limit: RateLimitArgs,
}

/// A refill schedule.
#[derive(Debug, Args)]
pub struct RefillArgs {
    /// Reset credits to this amount every --refill-interval.
    #[arg(long, requires = "refill_interval")]
    pub refill_amount: Option<i64>,
    /// How often credits are reset (e.g. 1d).
    #[arg(long, value_parser = parse_duration, requires = "refill_amount")]
    pub refill_interval: Option<Duration>,
}

/// A rate limit.
#[derive(Debug, Args)]
pub struct RateLimitArgs {
    /// Requests allowed per --rate-window.
    #[arg(long, requires = "rate_window")]
    pub rate_limit: Option<u32>,
    /// The rate-limit window (e.g. 1m).
    #[arg(long, value_parser = parse_duration, requires = "rate_limit")]
    pub rate_window: Option<Duration>,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The key, or - to read it from standard input (keeps it out of shell history).
    pub key: String,
    /// A required permission; repeat for more.
    #[arg(long = "permission")]
    pub permissions: Vec<String>,
    /// Credits this request costs.
    #[arg(long, default_value_t = 1)]
    pub cost: u32,
}

/// Options of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this owner's keys.
    #[arg(long)]
    pub owner: Option<String>,
    /// Keys per page.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// The cursor printed after the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Include revoked keys.
    #[arg(long)]
    pub include_revoked: bool,
}

/// Options of `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The key id.
    pub id: String,
    /// A new name.
    #[arg(long, conflicts_with = "clear_name")]
    pub name: Option<String>,
    /// Remove the name.
    #[arg(long)]
    pub clear_name: bool,
    /// Enable the key.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Disable the key.
    #[arg(long)]
    pub disable: bool,
    /// Replace the permissions; repeat for more.
    #[arg(long = "permission", conflicts_with = "clear_permissions")]
    pub permissions: Vec<String>,
    /// Remove every permission.
    #[arg(long)]
    pub clear_permissions: bool,
    /// Replace the metadata (a JSON object).
    #[arg(long)]
    pub metadata: Option<String>,
    /// A new expiry (RFC 3339 UTC).
    #[arg(long, conflicts_with_all = ["expires_in", "no_expiry"])]
    pub expires_at: Option<Timestamp>,
    /// Expire this long from now.
    #[arg(long, value_parser = parse_duration, conflicts_with = "no_expiry")]
    pub expires_in: Option<Duration>,
    /// Never expire.
    #[arg(long)]
    pub no_expiry: bool,
    /// Set the credits.
    #[arg(long, conflicts_with = "unlimited")]
    pub remaining: Option<i64>,
    /// Remove the credit limit.
    #[arg(long)]
    pub unlimited: bool,
    #[command(flatten)]
    pub refill: RefillArgs,
    /// Remove the refill schedule.
    #[arg(long, conflicts_with = "refill_amount")]
    pub no_refill: bool,
    #[command(flatten)]
    pub rate_limit: RateLimitArgs,
    /// Remove the rate limit.
    #[arg(long, conflicts_with = "rate_limit")]
    pub no_rate_limit: bool,
}

/// Options of `roll`.
#[derive(Debug, Args)]
pub struct RollArgs {
    /// The key id.
    pub id: String,
    /// How long the old key keeps working (e.g. 0, 1h, 7d).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    pub grace: Duration,
}
