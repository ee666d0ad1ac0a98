//! `Keyhouse::verify` on two stores, each created once and holding keys with
//! different settings: one in memory (`open_in_memory`), and one in a SQLite
//! file in a temporary directory, which is the only kind with reader
//! connections and the verify cache. The input picks the store, the key
//! string (arbitrary text, or a real key, possibly mutated and
//! re-checksummed), the required permissions and the cost.
//!
//! Invariants:
//! - verify never panics, and returns Err exactly when the required
//!   permissions are invalid (then INVALID_ARGUMENT);
//! - MALFORMED exactly when `parse` fails, with the same reason;
//! - a string that is not one of the created keys is MALFORMED or NOT_FOUND,
//!   never VALID nor any outcome that reveals a key;
//! - a created key gets the outcome its settings call for, and credits are
//!   consumed exactly (tracked here across runs);
//! - `retry_after` is set for RATE_LIMITED, and for USAGE_EXCEEDED of a key
//!   with a refill (within one refill interval), and for nothing else.
#![no_main]

mod common;

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use common::*;
use keyhouse::permissions::{covers_all, validate_required};
use keyhouse::{Config, CreateOptions, ErrorCode, Keyhouse, Outcome, RateLimit, Refill, UpdateOptions};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Plain,
    Permissions,
    Credits,
    HugeCredits,
    Refill,
    RateLimited,
    Revoked,
    Disabled,
    Expired,
}

struct Made {
    key: String,
    id: String,
    kind: Kind,
    granted: Vec<String>,
}

struct Fixture {
    kh: Keyhouse,
    /// Whether this is the file store (for messages).
    file: bool,
    keys: Vec<Made>,
    /// The credits the `Credits` and `HugeCredits` keys should have left.
    credits: Mutex<[i64; 2]>,
}

const CREDITS: i64 = 1_000_000;
const GRANTED: &[&str] = &["files:*", "admin:read", "x"];

fn fixtures() -> &'static [Fixture; 2] {
    static F: OnceLock<[Fixture; 2]> = OnceLock::new();
    F.get_or_init(|| {
        [
            fixture(Keyhouse::open_in_memory(Config::default()).expect("open in memory"), false),
            fixture(Keyhouse::open(file_store_path(), Config::default()).expect("open file"), true),
        ]
    })
}

/// A fresh database path under the temporary directory, one directory per
/// process. Directories of earlier runs whose process is gone are removed.
fn file_store_path() -> std::path::PathBuf {
    const PREFIX: &str = "keyhouse-fuzz-verify-";
    let base = std::env::temp_dir();
    for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else { continue };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = base.join(format!("{PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the store directory");
    dir.join("keys.db")
}

fn fixture(kh: Keyhouse, file: bool) -> Fixture {
    let mut keys = Vec::new();
    let mut add = |kind: Kind, options: CreateOptions| {
        let created = kh.create(options).expect("create");
        keys.push(Made { key: created.key, id: created.info.id.clone(), kind, granted: created.info.permissions });
    };
    add(Kind::Plain, CreateOptions::default());
    add(
        Kind::Permissions,
        CreateOptions {
            prefix: Some("acme_live".into()),
            permissions: Some(GRANTED.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        },
    );
    add(Kind::Credits, CreateOptions { remaining: Some(CREDITS), ..Default::default() });
    add(Kind::HugeCredits, CreateOptions { prefix: Some("a".into()), remaining: Some(i64::MAX), ..Default::default() });
    add(
        Kind::Refill,
        CreateOptions { refill: Some(Refill { amount: 3, interval: Duration::from_secs(3600) }), ..Default::default() },
    );
    add(
        Kind::RateLimited,
        CreateOptions {
            prefix: Some("rl_1".into()),
            rate_limit: Some(RateLimit { limit: 5, window: Duration::from_secs(10) }),
            ..Default::default()
        },
    );
    add(Kind::Revoked, CreateOptions { permissions: Some(vec!["*".into()]), ..Default::default() });
    add(Kind::Disabled, CreateOptions::default());
    add(Kind::Expired, CreateOptions { expires_in: Some(Duration::from_millis(1)), ..Default::default() });
    for m in &keys {
        match m.kind {
            Kind::Revoked => {
                kh.revoke(&m.id).expect("revoke");
            }
            Kind::Disabled => {
                kh.update(&m.id, UpdateOptions { enabled: Some(false), ..Default::default() }).expect("disable");
            }
            _ => {}
        }
    }
    std::thread::sleep(Duration::from_millis(5));
    Fixture { kh, file, keys, credits: Mutex::new([CREDITS, i64::MAX]) }
}

struct Input {
    store: usize,
    key: String,
    perms: Vec<String>,
    cost: u32,
}

fn input(u: &mut Unstructured) -> Result<Input> {
    let store = usize::from(u.arbitrary::<bool>()?);
    let f = &fixtures()[store];
    let key = match u.int_in_range(0..=3u8)? {
        0 => u.arbitrary::<String>()?,
        1 => f.keys[u.choose_index(f.keys.len())?].key.clone(),
        mode => {
            let base = &f.keys[u.choose_index(f.keys.len())?].key;
            let m = mutate(u, base)?;
            // Re-checksummed, so the mutation reaches the lookup and hash compare.
            if mode == 3 && m.len() > CHECKSUM_LEN && m.is_char_boundary(m.len() - CHECKSUM_LEN) {
                with_checksum(&m[..m.len() - CHECKSUM_LEN])
            } else {
                m
            }
        }
    };
    const PERMS: &[&str] = &[
        "files:read",
        "files:write:own",
        "files",
        "admin:read",
        "admin:write",
        "x",
        "y",
        "*",
        "files:*",
        "",
        "a b",
        "a::b",
        ":x",
        "é",
    ];
    let n = u.int_in_range(0..=3u8)?;
    let mut perms = Vec::new();
    for _ in 0..n {
        perms.push(if u.ratio(1, 4)? { u.arbitrary::<String>()? } else { u.choose(PERMS)?.to_string() });
    }
    let cost = match u.int_in_range(0..=3u8)? {
        0 => 0,
        1 => 1,
        2 => u.int_in_range(2..=1000)?,
        _ => u.arbitrary()?,
    };
    Ok(Input { store, key, perms, cost })
}

fn check(inp: &Input) {
    let f = &fixtures()[inp.store];
    let perms: Vec<&str> = inp.perms.iter().map(String::as_str).collect();
    let result = f.kh.verify(&inp.key, &perms, inp.cost);
    if validate_required(&perms).is_err() {
        let err = result.expect_err("verify accepted invalid required permissions");
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
        return;
    }
    let r = result.unwrap_or_else(|e| {
        panic!("verify({:?}, {perms:?}, {}) failed (file store: {}): {e}", inp.key, inp.cost, f.file)
    });

    // MALFORMED exactly when parse fails, with the same reason.
    match keyhouse::parse(&inp.key) {
        Err(keyhouse::Error::Malformed(reason)) => {
            assert_eq!(r.outcome, Outcome::Malformed, "{:?}", inp.key);
            assert_eq!(r.malformed_reason, Some(reason));
            assert!(r.key.is_none() && r.rate_limit.is_none() && r.retry_after.is_none());
            return;
        }
        Err(e) => panic!("parse returned a non-MALFORMED error: {e}"),
        Ok(_) => assert_ne!(r.outcome, Outcome::Malformed, "{:?}", inp.key),
    }
    assert_eq!(r.malformed_reason, None);
    assert_eq!(r.is_valid(), r.outcome == Outcome::Valid);

    let Some(made) = f.keys.iter().find(|m| m.key == inp.key) else {
        // Not one of ours: nothing may be revealed.
        assert_eq!(
            r.outcome,
            Outcome::NotFound,
            "{:?} is no created key but got {r:?} (file store: {})",
            inp.key,
            f.file
        );
        assert!(r.key.is_none() && r.rate_limit.is_none() && r.retry_after.is_none(), "{r:?}");
        return;
    };

    let info = r.key.as_ref().expect("a matched key reports its info");
    assert_eq!(info.id, made.id);
    let needs_no_perms = perms.is_empty();
    let covered = covers_all(&made.granted, &perms);
    let expect_perm = |ok: Outcome| if covered { ok } else { Outcome::InsufficientPermissions };
    match made.kind {
        Kind::Plain | Kind::Permissions => {
            assert_eq!(r.outcome, expect_perm(Outcome::Valid), "{:?} {perms:?}", made.kind);
            if made.kind == Kind::Plain {
                assert_eq!(covered, needs_no_perms);
            }
        }
        Kind::Revoked => assert_eq!(r.outcome, Outcome::Revoked),
        Kind::Disabled => assert_eq!(r.outcome, Outcome::Disabled),
        Kind::Expired => assert_eq!(r.outcome, Outcome::Expired),
        Kind::Credits | Kind::HugeCredits => {
            let slot = usize::from(made.kind == Kind::HugeCredits);
            let mut credits = f.credits.lock().unwrap();
            let left = credits[slot];
            if !covered {
                assert_eq!(r.outcome, Outcome::InsufficientPermissions);
            } else if i64::from(inp.cost) <= left {
                assert_eq!(r.outcome, Outcome::Valid, "cost {} with {left} left", inp.cost);
                credits[slot] = left - i64::from(inp.cost);
            } else {
                assert_eq!(r.outcome, Outcome::UsageExceeded, "cost {} with {left} left", inp.cost);
            }
            assert_eq!(info.remaining, Some(credits[slot]), "credits after {r:?}");
        }
        Kind::Refill => {
            if !covered {
                assert_eq!(r.outcome, Outcome::InsufficientPermissions);
            } else {
                let left = info.remaining.expect("refill keys have credits");
                match r.outcome {
                    // After paying `cost`, at most the refill amount is left.
                    Outcome::Valid => assert!(i64::from(inp.cost) + left <= 3, "cost {} left {left}", inp.cost),
                    Outcome::UsageExceeded => {
                        assert!(i64::from(inp.cost) > left, "cost {} left {left}", inp.cost);
                        // Until the next refill: within one interval.
                        let wait = r.retry_after.expect("USAGE_EXCEEDED of a key with a refill has retry_after");
                        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(3600), "{wait:?}");
                    }
                    o => panic!("refill key got {o:?}"),
                }
            }
            let left = info.remaining.expect("refill keys have credits");
            assert!((0..=3).contains(&left), "{left}");
        }
        Kind::RateLimited => {
            let state = r.rate_limit.expect("a rate-limited key reports its state");
            assert_eq!((state.limit, state.window), (5, Duration::from_secs(10)));
            assert!(state.remaining <= 5, "{state:?}");
            match r.outcome {
                Outcome::Valid => assert!(covered && r.retry_after.is_none()),
                Outcome::RateLimited => {
                    assert!(covered);
                    let wait = r.retry_after.expect("RATE_LIMITED has retry_after");
                    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(10), "{wait:?}");
                }
                Outcome::InsufficientPermissions => assert!(!covered),
                o => panic!("rate-limited key got {o:?}"),
            }
        }
    }
    // A wait only where waiting helps: a rate limit, or credits a refill
    // brings back.
    let refills = made.kind == Kind::Refill && r.outcome == Outcome::UsageExceeded;
    if r.outcome != Outcome::RateLimited && !refills {
        assert!(r.retry_after.is_none(), "{r:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(inp) = input(&mut u) {
        check(&inp);
    }
});
