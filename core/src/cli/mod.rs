//! The `keyhouse` command-line program: the store on a local SQLite file,
//! or on PostgreSQL.
//!
//! [`run`] is the whole program, so that the Rust binary, `python -m
//! keyhouse` and `npx keyhouse` are one CLI: same commands, output and exit
//! codes, none re-implemented in a binding.

mod args;
mod output;

use std::ffi::OsString;
use std::io::{Read, Write};

use clap::Parser;

use crate::{
    Config, CreateOptions, Error, Keyhouse, ListOptions, Metadata, Pepper, RateLimit, Refill, Timestamp, UpdateOptions,
};
use args::{Cli, Command, RateLimitArgs, RefillArgs};

/// Exit code: done (for `verify`: the key is VALID).
const SUCCESS: u8 = 0;

/// Runs the CLI with `args` (the program name first, as in `std::env::args_os`),
/// writing to this process's stdout and stderr, and returns the exit code:
/// 0 done, 1 a key that is not VALID, 2 an error or bad arguments (101 for
/// a bug, as a panicking binary exits).
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = Cli::try_parse_from(args);
    // A panic (a bug) ends the command the same way in every host: the panic
    // hook has printed it, and the exit code is the binary's own, 101,
    // instead of an exception in Python or an abort in Node.
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match parsed {
        Ok(cli) => match execute(cli) {
            Ok(code) => code,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: {e} [{}]", e.code());
                2
            }
        },
        Err(e) => bad_arguments(&e),
    }))
    .unwrap_or(101);
    // A host process (Python, Node) keeps running after this returns:
    // nothing may stay in Rust's buffer.
    let _ = std::io::stdout().flush();
    code
}

/// Prints clap's message for arguments it refused (or the help it was asked
/// for) without the values it refused: an error must never quote a value
/// that could be a key, and a key pasted into the wrong place would
/// otherwise be echoed to the terminal and every log that records it.
fn bad_arguments(e: &clap::Error) -> u8 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let mut text = e.render().to_string();
    let mut given = vec![ContextKind::InvalidValue, ContextKind::InvalidSubcommand];
    if e.kind() == ErrorKind::UnknownArgument {
        // Here the "argument" is whatever the user typed.
        given.push(ContextKind::InvalidArg);
    }
    for kind in given {
        if let Some(ContextValue::String(value)) = e.get(kind) {
            if !value.is_empty() {
                text = text.replace(&format!("'{value}'"), "'(not shown)'");
                // A long value can be a key even where it is printed
                // unquoted, or cut short by the value's own parser.
                if value.len() >= 16 {
                    text = text.replace(value.as_str(), "(not shown)");
                    let head: String = value.chars().take(24).collect();
                    text = text.replace(&head, "(not shown)");
                }
            }
        }
    }
    let _ = if e.use_stderr() { write!(std::io::stderr(), "{text}") } else { write!(std::io::stdout(), "{text}") };
    u8::try_from(e.exit_code()).unwrap_or(2)
}

fn execute(cli: Cli) -> Result<u8, Error> {
    let json = cli.json;
    if let Command::Copy(a) = &cli.command {
        let (from, to) = (Keyhouse::open(&a.from, config_from_env()?)?, Keyhouse::open(&a.to, config_from_env()?)?);
        let report = from.copy_into(&to)?;
        to.close()?;
        from.close()?;
        let text = if json {
            format!("{}\n", serde_json::json!({"copied": report.copied, "skipped": report.skipped}))
        } else {
            format!(
                "copied {} key(s) from {} to {}; {} already there\n",
                report.copied,
                shown(&a.from),
                shown(&a.to),
                report.skipped
            )
        };
        return Ok(emit(&text, SUCCESS));
    }
    let kh = Keyhouse::open(&cli.db, config_from_env()?)?;
    let code = match cli.command {
        // Opening migrated it.
        Command::Migrate => {
            let text = if json {
                format!("{}\n", serde_json::json!({"migrated": shown(&cli.db)}))
            } else {
                format!("{} is up to date\n", shown(&cli.db))
            };
            emit(&text, SUCCESS)
        }
        Command::Copy(_) => unreachable!("handled above"),
        Command::Create(a) => {
            let created = kh.create(CreateOptions {
                owner_id: a.owner,
                name: a.name,
                prefix: a.prefix,
                expires_in: a.expires_in,
                expires_at: a.expires_at,
                permissions: (!a.permissions.is_empty()).then_some(a.permissions),
                metadata: a.metadata.as_deref().map(parse_metadata).transpose()?,
                remaining: a.remaining,
                refill: refill(&a.refill),
                rate_limit: rate_limit(&a.rate_limit),
            })?;
            shown_once(emit(&output::created(&created, json), SUCCESS))
        }
        Command::Verify(a) => {
            let key = if a.key == "-" { read_stdin_key()? } else { a.key };
            let perms: Vec<&str> = a.permissions.iter().map(String::as_str).collect();
            let result = kh.verify(&key, &perms, a.cost)?;
            emit(&output::verify(&result, json), if result.is_valid() { SUCCESS } else { 1 })
        }
        Command::List(a) => {
            let page = kh.list(&ListOptions {
                owner_id: a.owner,
                limit: a.limit,
                cursor: a.cursor,
                include_revoked: a.include_revoked,
            })?;
            emit(&output::page(&page, json), SUCCESS)
        }
        Command::Show(a) => emit(&output::info(&kh.get(&a.id)?, json), SUCCESS),
        Command::Update(a) => {
            let expires_at = if a.no_expiry {
                Some(None)
            } else if let Some(d) = a.expires_in {
                Some(Some(Timestamp::now().saturating_add(d)))
            } else {
                a.expires_at.map(Some)
            };
            let info = kh.update(
                &a.id,
                UpdateOptions {
                    name: if a.clear_name { Some(None) } else { a.name.map(Some) },
                    enabled: if a.enable {
                        Some(true)
                    } else if a.disable {
                        Some(false)
                    } else {
                        None
                    },
                    permissions: if a.clear_permissions {
                        Some(Vec::new())
                    } else {
                        (!a.permissions.is_empty()).then_some(a.permissions)
                    },
                    metadata: a.metadata.as_deref().map(parse_metadata).transpose()?,
                    expires_at,
                    remaining: if a.unlimited { Some(None) } else { a.remaining.map(Some) },
                    refill: if a.no_refill { Some(None) } else { refill(&a.refill).map(Some) },
                    rate_limit: if a.no_rate_limit { Some(None) } else { rate_limit(&a.rate_limit).map(Some) },
                },
            )?;
            emit(&output::info(&info, json), SUCCESS)
        }
        Command::Revoke(a) => emit(&output::info(&kh.revoke(&a.id)?, json), SUCCESS),
        Command::Roll(a) => shown_once(emit(&output::created(&kh.roll(&a.id, a.grace)?, json), SUCCESS)),
        Command::Delete(a) => {
            kh.delete(&a.id)?;
            let text = if json {
                format!("{}\n", serde_json::json!({"deleted": a.id}))
            } else {
                format!("deleted {}\n", a.id)
            };
            emit(&text, SUCCESS)
        }
        Command::PurgeExpired => {
            let n = kh.purge_expired()?;
            let text = if json {
                format!("{}\n", serde_json::json!({"purged": n}))
            } else {
                format!("purged {n} expired key(s)\n")
            };
            emit(&text, SUCCESS)
        }
    };
    kh.close()?;
    Ok(code)
}

/// A store's name as the CLI prints it: a URL's password hidden.
fn shown(db: &std::path::Path) -> String {
    crate::redact_url(&db.to_string_lossy())
}

/// The configuration comes from the environment, never from flags, so
/// that peppers stay out of shell history and process listings:
///
/// - `KEYHOUSE_PEPPER` (and `KEYHOUSE_PEPPER_ID`, default `default`): the
///   current pepper;
/// - `KEYHOUSE_PREVIOUS_PEPPER_1`, `KEYHOUSE_PREVIOUS_PEPPER_ID_1`, `_2`, …:
///   earlier peppers, still accepted, read up to the first number missing;
/// - `KEYHOUSE_REHASH_ON_VERIFY=1`: let `verify` re-hash a key made with an
///   older pepper. Off by default, so that checking a key by hand never
///   changes what the services that share the store can verify;
/// - PostgreSQL: `KEYHOUSE_SCHEMA` (default `keyhouse`),
///   `KEYHOUSE_CONNECT_TIMEOUT` and `KEYHOUSE_STATEMENT_TIMEOUT` (durations
///   such as `5s`).
fn config_from_env() -> Result<Config, Error> {
    let var = |name: &str| std::env::var(name).ok();
    let mut config =
        Config { rehash_on_verify: var("KEYHOUSE_REHASH_ON_VERIFY").as_deref() == Some("1"), ..Config::default() };
    if let Some(secret) = var("KEYHOUSE_PEPPER") {
        let id = var("KEYHOUSE_PEPPER_ID").unwrap_or_else(|| "default".into());
        config.pepper = Some(Pepper::new(&id, secret.as_bytes())?);
    }
    for n in 1.. {
        let Some(secret) = var(&format!("KEYHOUSE_PREVIOUS_PEPPER_{n}")) else { break };
        let id = var(&format!("KEYHOUSE_PREVIOUS_PEPPER_ID_{n}")).ok_or_else(|| {
            Error::InvalidArgument(format!("KEYHOUSE_PREVIOUS_PEPPER_{n} needs KEYHOUSE_PREVIOUS_PEPPER_ID_{n}"))
        })?;
        config.previous_peppers.push(Pepper::new(&id, secret.as_bytes())?);
    }
    if let Some(schema) = var("KEYHOUSE_SCHEMA") {
        config.schema = schema;
    }
    for (name, field) in [
        ("KEYHOUSE_CONNECT_TIMEOUT", &mut config.connect_timeout),
        ("KEYHOUSE_STATEMENT_TIMEOUT", &mut config.statement_timeout),
    ] {
        if let Some(v) = var(name) {
            *field = crate::parse_duration(&v).map_err(|e| Error::InvalidArgument(format!("{name}: {e}")))?;
        }
    }
    Ok(config)
}

/// Writes `text` to stdout. A closed pipe (`keyhouse list | head`) is not
/// an error worth a panic: the reader has what it wanted.
fn emit(text: &str, code: u8) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(_) => 2,
    }
}

/// Follows a new key on stdout with a warning on stderr.
fn shown_once(code: u8) -> u8 {
    let _ = writeln!(std::io::stderr(), "Store this key now: it will not be shown again.");
    code
}

fn read_stdin_key() -> Result<String, Error> {
    let mut buf = String::new();
    // Read a little past the longest key, so a huge input is still rejected as malformed.
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut buf)
        .map_err(|e| Error::InvalidArgument(format!("could not read the key from standard input: {e}")))?;
    Ok(buf.trim_end_matches(['\n', '\r']).to_owned())
}

fn parse_metadata(s: &str) -> Result<Metadata, Error> {
    serde_json::from_str(s).map_err(|e| Error::InvalidArgument(format!("metadata must be a JSON object: {e}")))
}

fn refill(a: &RefillArgs) -> Option<Refill> {
    Some(Refill { amount: a.refill_amount?, interval: a.refill_interval? })
}

fn rate_limit(a: &RateLimitArgs) -> Option<RateLimit> {
    Some(RateLimit { limit: a.rate_limit?, window: a.rate_window? })
}
