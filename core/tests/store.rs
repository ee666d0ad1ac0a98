//! The store's operations, its guarantees and its failure modes.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keyhouse::seam::{ManualClock, OsRandom, Seams};
use keyhouse::{
    Config, CreateOptions, ErrorCode, Keyhouse, ListOptions, Outcome, Pepper, RateLimit, Timestamp, UpdateOptions,
    SCHEMA_VERSION,
};
use rusqlite::Connection;

use common::{forge_same_id, TempDir};

const T0: i64 = 1_800_000_000_000;

fn memory() -> Keyhouse {
    Keyhouse::open_in_memory(Config::default()).unwrap()
}

fn with_clock(path: &std::path::Path, config: Config) -> (Keyhouse, Arc<ManualClock>) {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let kh =
        Keyhouse::open_with_seams(path, config, Seams { clock: clock.clone(), random: Arc::new(OsRandom) }).unwrap();
    (kh, clock)
}

fn owned(owner: &str) -> CreateOptions {
    CreateOptions { owner_id: Some(owner.into()), ..Default::default() }
}

#[test]
fn create_get_and_verify() {
    let kh = memory();
    let c = kh
        .create(CreateOptions {
            owner_id: Some("team-1".into()),
            name: Some("deploy bot".into()),
            prefix: Some("acme_live".into()),
            permissions: Some(vec!["files:*".into(), "files:*".into()]),
            metadata: Some(serde_json::json!({"plan": "pro"}).as_object().unwrap().clone()),
            ..Default::default()
        })
        .unwrap();
    assert!(c.key.starts_with("acme_live_"));
    assert_eq!(c.info.permissions, vec!["files:*"], "duplicates are dropped");
    let got = kh.get(&c.info.id).unwrap();
    assert_eq!(got, c.info);
    let r = kh.verify(&c.key, &["files:read"], 1).unwrap();
    assert_eq!(r.outcome, Outcome::Valid);
    let info = r.key.unwrap();
    assert_eq!(info.owner_id.as_deref(), Some("team-1"));
    assert_eq!(info.metadata["plan"], "pro");
    assert_eq!(info.usage_count, 1);
    assert!(info.last_used_at.is_some());
}

#[test]
fn metadata_comes_back_whole_on_every_path_of_a_file_store() {
    // A file store caches rows, which hold the metadata as text: every
    // path that hands out a key's info must give the whole map back.
    let dir = TempDir::new("metadata");
    let kh = Keyhouse::open(dir.path().join("keyhouse.db"), Config::default()).unwrap();
    let map = |v: serde_json::Value| v.as_object().unwrap().clone();
    let m = map(serde_json::json!({"plan": "pro", "limits": {"seats": [1, 2.5, null, true]}, "note": "é\n🔑"}));
    let with = |remaining| CreateOptions { metadata: Some(m.clone()), remaining, ..Default::default() };
    let (plain, paid) = (kh.create(with(None)).unwrap(), kh.create(with(Some(5))).unwrap());
    assert_eq!(plain.info.metadata, m);
    // The first verify reads the row; the others are answered from the cache.
    for _ in 0..3 {
        assert_eq!(kh.verify(&plain.key, &[], 1).unwrap().key.unwrap().metadata, m);
        assert_eq!(kh.verify(&paid.key, &[], 1).unwrap().key.unwrap().metadata, m);
    }
    let refused = kh.verify(&plain.key, &["admin"], 1).unwrap();
    assert_eq!((refused.outcome, refused.key.unwrap().metadata), (Outcome::InsufficientPermissions, m.clone()));
    assert_eq!(kh.get(&plain.info.id).unwrap().metadata, m);
    let listed = kh.list(&ListOptions::default()).unwrap().keys;
    assert!(listed.len() == 2 && listed.iter().all(|k| k.metadata == m));
    assert_eq!(kh.roll(&paid.info.id, Duration::from_secs(60)).unwrap().info.metadata, m);
    let changed = map(serde_json::json!({"plan": "team"}));
    let update = |m: &serde_json::Map<_, _>| UpdateOptions { metadata: Some(m.clone()), ..Default::default() };
    assert_eq!(kh.update(&plain.info.id, update(&changed)).unwrap().metadata, changed);
    assert_eq!(kh.verify(&plain.key, &[], 1).unwrap().key.unwrap().metadata, changed);
    assert_eq!(kh.revoke(&plain.info.id).unwrap().metadata, changed);
    let revoked = kh.verify(&plain.key, &[], 1).unwrap();
    assert_eq!((revoked.outcome, revoked.key.unwrap().metadata), (Outcome::Revoked, changed));
    assert!(kh.update(&plain.info.id, update(&Default::default())).unwrap().metadata.is_empty());
    assert!(kh.get(&plain.info.id).unwrap().metadata.is_empty());

    // The JSON parser refuses 128 levels or more, so the store does too.
    let nested = |depth| (0..depth).fold(serde_json::json!("leaf"), |v, _| serde_json::json!({ "n": v }));
    let deep = CreateOptions { metadata: Some(map(nested(128))), ..Default::default() };
    assert_eq!(kh.create(deep).unwrap_err().code(), ErrorCode::InvalidArgument);
    let fine = kh.create(CreateOptions { metadata: Some(map(nested(127))), ..Default::default() }).unwrap();
    assert_eq!(kh.get(&fine.info.id).unwrap().metadata, map(nested(127)));
}

#[test]
fn wrong_secret_for_a_real_id_is_not_found() {
    let kh = memory();
    let c = kh.create(CreateOptions::default()).unwrap();
    let forged = forge_same_id(&c.key);
    assert_ne!(forged, c.key);
    assert_eq!(keyhouse::parse(&forged).unwrap().id, c.info.id, "the forgery is well-formed");
    let r = kh.verify(&forged, &[], 1).unwrap();
    assert_eq!(r.outcome, Outcome::NotFound);
    assert!(r.key.is_none(), "nothing about the real key leaks");
}

#[test]
fn malformed_input_of_any_size_is_an_outcome() {
    let kh = memory();
    let huge = "a".repeat(10 * 1024 * 1024);
    let r = kh.verify(&huge, &[], 1).unwrap();
    assert_eq!(r.outcome, Outcome::Malformed);
    assert_eq!(r.malformed_reason.unwrap().code(), "TOO_LONG");
    assert_eq!(kh.verify("", &[], 1).unwrap().malformed_reason.unwrap().code(), "EMPTY");
    assert_eq!(kh.verify("kh_\0", &[], 1).unwrap().outcome, Outcome::Malformed);
}

#[test]
fn list_paginates_filters_and_hides_revoked() {
    let (kh, clock) = with_clock(std::path::Path::new(":memory:"), Config::default());
    let mut ids = Vec::new();
    for i in 0..7 {
        clock.advance_millis(1);
        let owner = if i % 2 == 0 { "even" } else { "odd" };
        ids.push(kh.create(owned(owner)).unwrap().info.id);
    }
    // Two keys in the same millisecond still page deterministically.
    ids.push(kh.create(owned("even")).unwrap().info.id);
    let mut seen = Vec::new();
    let mut opts = ListOptions { limit: 3, ..Default::default() };
    loop {
        let page = kh.list(&opts).unwrap();
        assert!(page.keys.len() <= 3);
        seen.extend(page.keys.into_iter().map(|k| k.id));
        match page.next_cursor {
            Some(c) => opts.cursor = Some(c),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected[6..].sort();
    assert_eq!(seen, expected);

    kh.revoke(&ids[0]).unwrap();
    let even = kh.list(&ListOptions { owner_id: Some("even".into()), ..Default::default() }).unwrap();
    assert_eq!(even.keys.len(), 4 - 1 + 1);
    assert!(even.keys.iter().all(|k| k.owner_id.as_deref() == Some("even") && k.revoked_at.is_none()));
    let all_even =
        kh.list(&ListOptions { owner_id: Some("even".into()), include_revoked: true, ..Default::default() }).unwrap();
    assert_eq!(all_even.keys.len(), 5);
    assert!(all_even.next_cursor.is_none());

    for bad in [ListOptions { limit: 0, ..Default::default() }, ListOptions { limit: 1001, ..Default::default() }] {
        assert_eq!(kh.list(&bad).unwrap_err().code(), ErrorCode::InvalidArgument);
    }
    let bad_cursor = ListOptions { cursor: Some("garbage".into()), ..Default::default() };
    assert_eq!(kh.list(&bad_cursor).unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn update_changes_and_clears_fields() {
    let kh = memory();
    let c = kh.create(CreateOptions { name: Some("old".into()), remaining: Some(5), ..Default::default() }).unwrap();
    let id = &c.info.id;
    let u = kh
        .update(
            id,
            UpdateOptions { name: Some(None), remaining: Some(None), enabled: Some(false), ..Default::default() },
        )
        .unwrap();
    assert_eq!((u.name, u.remaining, u.enabled), (None, None, false));
    let u = kh.update(id, UpdateOptions { name: Some(Some("new".into())), ..Default::default() }).unwrap();
    assert_eq!(u.name.as_deref(), Some("new"));
    assert!(!u.enabled, "untouched fields stay");

    let huge = serde_json::json!({"blob": "x".repeat(20_000)}).as_object().unwrap().clone();
    let err = kh.update(id, UpdateOptions { metadata: Some(huge), ..Default::default() }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    for name in ["", "\0", &"n".repeat(257)] {
        let err = kh.update(id, UpdateOptions { name: Some(Some(name.into())), ..Default::default() }).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{name:?}");
    }
    assert_eq!(kh.get(id).unwrap().name.as_deref(), Some("new"), "failed updates change nothing");
    assert_eq!(kh.update("00000000000000", UpdateOptions::default()).unwrap_err().code(), ErrorCode::NotFound);
}

#[test]
fn delete_is_hard_and_unknown_ids_are_not_found() {
    let kh = memory();
    let c = kh.create(CreateOptions::default()).unwrap();
    kh.delete(&c.info.id).unwrap();
    assert_eq!(kh.get(&c.info.id).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(kh.delete(&c.info.id).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap().outcome, Outcome::NotFound);
    for bad in ["", "short", "has space in it", "00000000000000x"] {
        assert_eq!(kh.get(bad).unwrap_err().code(), ErrorCode::InvalidArgument, "{bad:?}");
    }
}

#[test]
fn create_many_is_all_or_nothing() {
    let config = Config { max_keys_per_owner: Some(3), ..Config::default() };
    let kh = Keyhouse::open_in_memory(config).unwrap();
    let bad_batch = vec![owned("a"), CreateOptions { prefix: Some("BAD".into()), ..Default::default() }];
    assert_eq!(kh.create_many(bad_batch).unwrap_err().code(), ErrorCode::InvalidArgument);
    let over_limit = vec![owned("a"), owned("a"), owned("a"), owned("a")];
    assert_eq!(kh.create_many(over_limit).unwrap_err().code(), ErrorCode::KeyLimitExceeded);
    assert!(kh.list(&ListOptions::default()).unwrap().keys.is_empty());
    let made = kh.create_many((0..3).map(|_| owned("a")).chain([owned("b")]).collect()).unwrap();
    assert_eq!(made.len(), 4);
    assert_eq!(kh.create(owned("a")).unwrap_err().code(), ErrorCode::KeyLimitExceeded);
    assert!(kh.create_many(vec![]).unwrap().is_empty());
}

#[test]
fn plain_verify_writes_nothing_until_the_flush() {
    let dir = TempDir::new("nowrite");
    let (kh, clock) =
        with_clock(&dir.db(), Config { usage_flush_interval: Duration::from_secs(60), ..Config::default() });
    let c = kh.create(CreateOptions::default()).unwrap();
    let observer = Connection::open(dir.db()).unwrap();
    let version = || -> i64 { observer.query_row("PRAGMA data_version", [], |r| r.get(0)).unwrap() };
    let stored = || -> (i64, Option<i64>) {
        observer
            .query_row(
                "SELECT usage_count, last_used_at FROM key_state JOIN keys USING (seq) WHERE id = ?1",
                [&c.info.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    let wal_len = || std::fs::metadata(dir.path().join("keyhouse.db-wal")).map(|m| m.len()).unwrap_or(0);
    let (v0, wal0) = (version(), wal_len());
    for _ in 0..1000 {
        clock.advance_millis(10);
        assert!(kh.verify(&c.key, &[], 1).unwrap().is_valid());
    }
    assert_eq!(version(), v0, "a plain verify must not commit anything");
    assert_eq!(wal_len(), wal0);
    assert_eq!(stored(), (0, None));
    assert_eq!(kh.get(&c.info.id).unwrap().usage_count, 1000, "reads include pending usage");

    // Past the interval, the next verify hands the whole batch to the flush
    // thread, which writes it at once.
    clock.advance_millis(60_000);
    kh.verify(&c.key, &[], 1).unwrap();
    eventually(|| stored() == (1001, Some(T0 + 1000 * 10 + 60_000)));
    assert_ne!(version(), v0);
    assert_eq!(kh.get(&c.info.id).unwrap().usage_count, 1001, "flushed usage is not counted twice");

    kh.verify(&c.key, &[], 1).unwrap();
    kh.close().unwrap();
    assert_eq!(stored().0, 1002, "close flushes");
    assert_eq!(kh.get(&c.info.id).unwrap_err().code(), ErrorCode::Closed);
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap_err().code(), ErrorCode::Closed);
    kh.close().unwrap();
}

/// The usage count written to the store for key `id`.
fn stored_usage(db: &Connection, id: &str) -> i64 {
    db.query_row("SELECT usage_count FROM key_state JOIN keys USING (seq) WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

/// Waits up to 10 s for `done`, then fails.
fn eventually(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "not done within 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_verify_that_finds_a_flush_due_does_not_wait_for_it() {
    let dir = TempDir::new("flush-thread");
    // If the verify wrote the flush itself, it would wait this long for the
    // write lock held below.
    let config = Config { busy_timeout: Duration::from_secs(120), ..Config::default() };
    let (kh, clock) = with_clock(&dir.db(), config);
    let c = kh.create(CreateOptions::default()).unwrap();
    kh.verify(&c.key, &[], 1).unwrap();
    let other = Connection::open(dir.db()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    clock.advance_millis(60_000);
    let (done, answered) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| done.send(kh.verify(&c.key, &[], 1).unwrap().outcome).unwrap());
        let outcome = answered.recv_timeout(Duration::from_secs(30));
        // Let the flush through, whatever happened, so that the scope ends.
        other.execute_batch("COMMIT").unwrap();
        assert_eq!(outcome, Ok(Outcome::Valid), "the verify waited for the flush");
    });
    let stored = || stored_usage(&other, &c.info.id);
    eventually(|| stored() == 2);
    // Pending and written usage are each counted once.
    assert_eq!(kh.get(&c.info.id).unwrap().usage_count, 2);
    kh.close().unwrap();
    assert_eq!(stored(), 2);
}

#[test]
fn usage_is_written_when_the_interval_passes_with_no_verify_after() {
    let dir = TempDir::new("flush-idle");
    let kh = Keyhouse::open(dir.db(), Config { usage_flush_interval: Duration::from_millis(200), ..Config::default() })
        .unwrap();
    let c = kh.create(CreateOptions::default()).unwrap();
    kh.verify(&c.key, &[], 1).unwrap();
    let observer = Connection::open(dir.db()).unwrap();
    eventually(|| stored_usage(&observer, &c.info.id) == 1);
    kh.close().unwrap();
}

#[test]
fn a_store_whose_close_failed_still_flushes_in_the_background() {
    let dir = TempDir::new("flush-reopen");
    let config = Config {
        usage_flush_interval: Duration::from_millis(200),
        busy_timeout: Duration::from_millis(50),
        ..Config::default()
    };
    let kh = Keyhouse::open(dir.db(), config).unwrap();
    let c = kh.create(CreateOptions::default()).unwrap();
    let other = Connection::open(dir.db()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    kh.verify(&c.key, &[], 1).unwrap();
    assert_eq!(kh.close().unwrap_err().code(), ErrorCode::StoreBusy);
    other.execute_batch("COMMIT").unwrap();
    // Still open, and its usage goes out with no further call.
    eventually(|| stored_usage(&other, &c.info.id) == 1);
    kh.close().unwrap();
}

#[test]
fn an_interval_under_a_millisecond_writes_in_every_verify() {
    let dir = TempDir::new("flush-sub-ms");
    let config = Config { usage_flush_interval: Duration::from_micros(500), ..Config::default() };
    let kh = Keyhouse::open(dir.db(), config).unwrap();
    let c = kh.create(CreateOptions::default()).unwrap();
    let observer = Connection::open(dir.db()).unwrap();
    for n in 1..=3 {
        kh.verify(&c.key, &[], 1).unwrap();
        assert_eq!(stored_usage(&observer, &c.info.id), n);
    }
}

#[test]
fn drop_flushes_pending_usage() {
    let dir = TempDir::new("drop");
    let c = {
        let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
        let c = kh.create(CreateOptions::default()).unwrap();
        kh.verify(&c.key, &[], 1).unwrap();
        c
    };
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    assert_eq!(kh.get(&c.info.id).unwrap().usage_count, 1);
}

#[test]
fn pepper_rotation_rehashes_on_use() {
    let dir = TempDir::new("pepper");
    let p1 = Pepper::new("p1", &[1; 32]).unwrap();
    let p2 = Pepper::new("p2", &[2; 32]).unwrap();
    let hash_of = |id: &str| -> String {
        Connection::open(dir.db())
            .unwrap()
            .query_row("SELECT hash FROM keys WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    let c = Keyhouse::open(dir.db(), Config::default()).unwrap().create(CreateOptions::default()).unwrap();
    assert!(hash_of(&c.info.id).starts_with("sha256$"));

    let kh = Keyhouse::open(dir.db(), Config { pepper: Some(p1.clone()), ..Config::default() }).unwrap();
    assert!(kh.verify(&c.key, &[], 1).unwrap().is_valid());
    drop(kh);
    assert!(hash_of(&c.info.id).starts_with("hmac-sha256$p1$"));

    let rotated = Config { pepper: Some(p2.clone()), previous_peppers: vec![p1], ..Config::default() };
    let kh = Keyhouse::open(dir.db(), rotated).unwrap();
    assert!(kh.verify(&c.key, &[], 1).unwrap().is_valid());
    assert!(hash_of(&c.info.id).starts_with("hmac-sha256$p2$"));
    assert_eq!(kh.verify(&forge_same_id(&c.key), &[], 1).unwrap().outcome, Outcome::NotFound);
    drop(kh);

    let forgot =
        Keyhouse::open(dir.db(), Config { pepper: Some(Pepper::new("p3", &[3; 32]).unwrap()), ..Config::default() })
            .unwrap();
    // A dropped pepper is the operator's decision; to a client, keys hashed
    // with it (and forgeries of their ids) are simply unknown, never an error.
    assert_eq!(forgot.verify(&c.key, &[], 1).unwrap().outcome, Outcome::NotFound);
    assert_eq!(forgot.verify(&forge_same_id(&c.key), &[], 1).unwrap().outcome, Outcome::NotFound);
    assert_eq!(keyhouse::verify_hash(&c.key, &hash_of(&c.info.id), &[]).unwrap_err().code(), ErrorCode::UnknownPepper);
}

#[test]
fn plaintext_is_never_stored_or_debug_printed() {
    let dir = TempDir::new("secret");
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let c = kh.create(CreateOptions { remaining: Some(3), ..Default::default() }).unwrap();
    let r = kh.verify(&c.key, &[], 1).unwrap();
    kh.close().unwrap();
    let secret = &c.key[c.key.rfind('_').unwrap() + 1..];
    for f in ["keyhouse.db", "keyhouse.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(f)) {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "secret found in {f}");
        }
    }
    for shown in [format!("{c:?}"), format!("{r:?}"), format!("{kh:?}")] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

/// A file written by the version-2 schema, before usage and limit state
/// moved to their own table: one key with credits, a refill and usage.
const SCHEMA_V2_FILE: &str = "
    CREATE TABLE keys (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, hash TEXT NOT NULL,
        owner_id TEXT, name TEXT, permissions TEXT NOT NULL, metadata TEXT NOT NULL, enabled INTEGER NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER,
        last_used_at INTEGER, usage_count INTEGER NOT NULL DEFAULT 0, remaining INTEGER, refill_amount INTEGER,
        refill_interval_ms INTEGER, last_refill_at INTEGER, rate_limit INTEGER, rate_window_ms INTEGER,
        rate_tat INTEGER);
    CREATE INDEX keys_by_owner ON keys (owner_id, created_at, id);
    CREATE INDEX keys_by_created ON keys (created_at, id);
    CREATE INDEX keys_by_expiry ON keys (expires_at) WHERE expires_at IS NOT NULL;
    ALTER TABLE keys ADD COLUMN limit_source TEXT;
    PRAGMA user_version = 2;";

#[test]
fn a_version_2_file_keeps_its_usage_and_credits_after_the_migration() {
    let dir = TempDir::new("migrate-v2");
    let start = Timestamp::from_millis(1_700_000_000_000);
    let made = keyhouse::generate("kh").unwrap();
    let old = Connection::open(dir.db()).unwrap();
    old.execute_batch(SCHEMA_V2_FILE).unwrap();
    old.execute(
        "INSERT INTO keys (id, prefix, hash, owner_id, permissions, metadata, enabled, created_at, updated_at, \
         last_used_at, usage_count, remaining, refill_amount, refill_interval_ms, last_refill_at) \
         VALUES (?1, 'kh', ?2, 'acme', '[]', '{}', 1, ?3, ?3, ?3, 41, 7, 10, 3600000, ?3)",
        rusqlite::params![made.id, made.hash, start.as_millis()],
    )
    .unwrap();
    drop(old);

    let (kh, clock) = with_clock(&dir.db(), Config::default());
    clock.set(start.saturating_add(Duration::from_secs(60)));
    let info = kh.get(&made.id).unwrap();
    assert_eq!((info.usage_count, info.remaining, info.last_used_at), (41, Some(7), Some(start)));
    let v = kh.verify(&made.key, &[], 2).unwrap();
    assert_eq!((v.outcome, v.key.unwrap().remaining), (Outcome::Valid, Some(5)));
    kh.close().unwrap();

    let conn = Connection::open(dir.db()).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let moved = conn.prepare("SELECT usage_count FROM keys").is_err();
    assert_eq!((version, moved), (SCHEMA_VERSION, true), "the moved columns are gone from keys");
    // Whoever deletes a key, its state row goes with it.
    conn.execute("DELETE FROM keys", []).unwrap();
    let states: i64 = conn.query_row("SELECT count(*) FROM key_state", [], |r| r.get(0)).unwrap();
    assert_eq!(states, 0);
}

#[test]
fn schema_is_versioned_and_newer_files_are_refused() {
    let dir = TempDir::new("schema");
    drop(Keyhouse::open(dir.db(), Config::default()).unwrap());
    let conn = Connection::open(dir.db()).unwrap();
    let (v, mode): (i64, String) = (
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap(),
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap(),
    );
    assert_eq!((v, mode.as_str()), (SCHEMA_VERSION, "wal"));
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(conn);
    assert_eq!(Keyhouse::open(dir.db(), Config::default()).unwrap_err().code(), ErrorCode::SchemaTooNew);

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42; 8192]).unwrap();
    assert_eq!(Keyhouse::open(&garbage, Config::default()).unwrap_err().code(), ErrorCode::StoreError);
    let missing_dir = dir.path().join("no/such/dir/k.db");
    assert_eq!(Keyhouse::open(missing_dir, Config::default()).unwrap_err().code(), ErrorCode::StoreError);
}

#[test]
fn bad_config_is_refused() {
    let p = Pepper::new("same", &[0; 16]).unwrap();
    let bad = [
        Config { default_prefix: "Nope".into(), ..Config::default() },
        Config { secret_bytes: 8, ..Config::default() },
        Config { default_permissions: vec!["a b".into()], ..Config::default() },
        Config {
            min_expiry: Some(Duration::from_secs(10)),
            max_expiry: Some(Duration::from_secs(5)),
            ..Config::default()
        },
        Config {
            default_expiry: Some(Duration::from_secs(50)),
            max_expiry: Some(Duration::from_secs(5)),
            ..Config::default()
        },
        Config { max_keys_per_owner: Some(0), ..Config::default() },
        Config { verify_cache_size: 10_000_001, ..Config::default() },
        Config { pepper: Some(p.clone()), previous_peppers: vec![p], ..Config::default() },
        // SQLite takes its busy timeout in i32 milliseconds (rusqlite panics
        // beyond): refused, as every timeout beyond an hour is.
        Config { busy_timeout: Duration::from_secs(3601), ..Config::default() },
        Config { busy_timeout: Duration::from_secs(30 * 86_400), ..Config::default() },
    ];
    for c in bad {
        assert_eq!(Keyhouse::open_in_memory(c.clone()).unwrap_err().code(), ErrorCode::InvalidArgument, "{c:?}");
    }
    assert!(Pepper::new("ok", &[0; 15]).is_err());
    assert!(Pepper::new("bad id", &[0; 16]).is_err());
}

#[test]
fn one_store_serves_many_threads() {
    let dir = TempDir::new("threads");
    let kh = Arc::new(Keyhouse::open(dir.db(), Config::default()).unwrap());
    let plain = kh.create(CreateOptions::default()).unwrap().key;
    let quota = kh.create(CreateOptions { remaining: Some(500), ..Default::default() }).unwrap().key;
    let (valid, exceeded) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (kh, plain, quota, valid, exceeded) =
                (kh.clone(), plain.clone(), quota.clone(), valid.clone(), exceeded.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    assert!(kh.verify(&plain, &[], 1).unwrap().is_valid());
                    match kh.verify(&quota, &[], 1).unwrap().outcome {
                        Outcome::Valid => valid.fetch_add(1, Ordering::Relaxed),
                        Outcome::UsageExceeded => exceeded.fetch_add(1, Ordering::Relaxed),
                        o => panic!("{o}"),
                    };
                    if i % 20 == 0 {
                        kh.create(owned(&format!("t{t}"))).unwrap();
                    }
                }
            })
        })
        .collect();
    // Flushes meanwhile: each takes the counts of the cached rows' cells.
    let flushes = {
        let kh = kh.clone();
        std::thread::spawn(move || {
            for _ in 0..50 {
                kh.flush().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    for t in threads {
        t.join().unwrap();
    }
    flushes.join().unwrap();
    assert_eq!(valid.load(Ordering::Relaxed), 500);
    assert_eq!(exceeded.load(Ordering::Relaxed), 8 * 200 - 500);
    let plain_id = keyhouse::parse(&plain).unwrap().id;
    assert_eq!(kh.get(&plain_id).unwrap().usage_count, 1600);
    let page = kh.list(&ListOptions { limit: 1000, ..Default::default() }).unwrap();
    assert_eq!(page.keys.len(), 2 + 8 * 10);
    kh.close().unwrap();
    let reopened = Keyhouse::open(dir.db(), Config::default()).unwrap();
    assert_eq!(reopened.get(&plain_id).unwrap().usage_count, 1600, "all usage reached the file");
}

#[test]
fn rate_limited_verify_reports_state_and_exact_retry() {
    let (kh, clock) = with_clock(std::path::Path::new(":memory:"), Config::default());
    let rl = RateLimit { limit: 2, window: Duration::from_secs(1) };
    let c = kh.create(CreateOptions { rate_limit: Some(rl), ..Default::default() }).unwrap();
    for expect in [1, 0] {
        let r = kh.verify(&c.key, &[], 1).unwrap();
        assert_eq!((r.outcome, r.rate_limit.unwrap().remaining), (Outcome::Valid, expect));
    }
    let r = kh.verify(&c.key, &[], 1).unwrap();
    assert_eq!(r.outcome, Outcome::RateLimited);
    assert_eq!(r.retry_after, Some(Duration::from_millis(500)));
    assert_eq!(r.rate_limit.unwrap().reset_at, Timestamp::from_millis(T0 + 1000));
    clock.advance_millis(500);
    assert!(kh.verify(&c.key, &[], 1).unwrap().is_valid());
}

/// Verify serves rows from memory; no change committed elsewhere may be missed.
#[test]
fn cached_rows_never_outlive_a_commit() {
    let dir = TempDir::new("cache");
    let a = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let b = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let c = a.create(CreateOptions::default()).unwrap();
    let id = &c.info.id;
    // Toggle the key from another connection and check every change at once.
    for round in 0..200 {
        let enabled = round % 2 == 0;
        b.update(id, UpdateOptions { enabled: Some(enabled), ..Default::default() }).unwrap();
        let expected = if enabled { Outcome::Valid } else { Outcome::Disabled };
        for _ in 0..3 {
            assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, expected, "round {round}");
        }
    }
    b.update(id, UpdateOptions { enabled: Some(true), permissions: Some(vec!["x:y".into()]), ..Default::default() })
        .unwrap();
    assert_eq!(a.verify(&c.key, &["x:y"], 1).unwrap().outcome, Outcome::Valid);
    assert_eq!(a.verify(&c.key, &["x:z"], 1).unwrap().outcome, Outcome::InsufficientPermissions);

    // A revoke from another OS process is seen at once.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyhouse"))
        .arg("--db")
        .arg(dir.db())
        .args(["revoke", id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Revoked);

    b.delete(id).unwrap();
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::NotFound);
}

/// A commit drops from other processes' caches only the keys it changed:
/// the rest still answer from memory (`verify_cached` says so).
#[test]
fn a_commit_drops_only_the_keys_it_changed() {
    let dir = TempDir::new("cache-log");
    let service = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let admin = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let keys: Vec<_> = (0..3).map(|_| admin.create(CreateOptions::default()).unwrap()).collect();
    for k in &keys {
        assert!(service.verify(&k.key, &[], 1).unwrap().is_valid());
    }
    admin.revoke(&keys[0].info.id).unwrap();
    assert_eq!(service.verify(&keys[0].key, &[], 1).unwrap().outcome, Outcome::Revoked);
    let r = service.verify_cached(&keys[1].key, &[], 1).unwrap();
    assert!(r.is_some_and(|r| r.is_valid()), "an unchanged key is still answered from memory");

    // The sqlite3 shell's changes are logged by the same triggers.
    let shell = Connection::open(dir.db()).unwrap();
    shell.execute("UPDATE keys SET enabled = 0 WHERE id = ?1", [&keys[1].info.id]).unwrap();
    assert_eq!(service.verify(&keys[1].key, &[], 1).unwrap().outcome, Outcome::Disabled);
    // A REPLACE deletes the old row without firing delete triggers; its insert is logged.
    shell
        .execute(
            "INSERT OR REPLACE INTO keys (seq, id, prefix, hash, permissions, metadata, enabled, created_at, \
             updated_at, revoked_at) SELECT seq, id, prefix, hash, permissions, metadata, 1, created_at, \
             updated_at, updated_at FROM keys WHERE id = ?1",
            [&keys[2].info.id],
        )
        .unwrap();
    assert_eq!(service.verify(&keys[2].key, &[], 1).unwrap().outcome, Outcome::Revoked);
}

/// Changes the triggers would miss: a REPLACE that collides on `seq` (it
/// deletes another key without delete triggers), credits turned on by
/// hand in `key_state`, and changes made after a trigger was dropped.
#[test]
fn changes_that_bypass_the_log_triggers_still_reach_the_cache() {
    let dir = TempDir::new("cache-bypass");
    let service = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let keys: Vec<_> = (0..4).map(|_| service.create(CreateOptions::default()).unwrap()).collect();
    for k in &keys {
        assert!(service.verify(&k.key, &[], 1).unwrap().is_valid());
    }
    let shell = Connection::open(dir.db()).unwrap();
    shell
        .execute(
            "INSERT OR REPLACE INTO keys (seq, id, prefix, hash, permissions, metadata, enabled, created_at, \
             updated_at) SELECT seq, 'replacement', prefix, hash, permissions, metadata, 1, created_at, \
             updated_at FROM keys WHERE id = ?1",
            [&keys[0].info.id],
        )
        .unwrap();
    assert_eq!(service.verify(&keys[0].key, &[], 1).unwrap().outcome, Outcome::NotFound);

    shell
        .execute(
            "UPDATE key_state SET remaining = 0 WHERE seq = (SELECT seq FROM keys WHERE id = ?1)",
            [&keys[1].info.id],
        )
        .unwrap();
    assert_eq!(service.verify(&keys[1].key, &[], 1).unwrap().outcome, Outcome::UsageExceeded);

    shell.execute_batch("DROP TRIGGER keys_log_update").unwrap();
    shell.execute("UPDATE keys SET enabled = 0 WHERE id = ?1", [&keys[2].info.id]).unwrap();
    assert_eq!(service.verify(&keys[2].key, &[], 1).unwrap().outcome, Outcome::Disabled);
    assert!(service.verify(&keys[3].key, &[], 1).unwrap().is_valid());
    // Still without the trigger, and the schema unchanged since: every commit empties the cache.
    shell.execute("UPDATE keys SET enabled = 0 WHERE id = ?1", [&keys[3].info.id]).unwrap();
    assert_eq!(service.verify(&keys[3].key, &[], 1).unwrap().outcome, Outcome::Disabled);
}

/// A log that cannot be read (dropped by hand) costs the cache, not the verify.
#[test]
fn a_store_whose_log_is_gone_still_verifies() {
    let dir = TempDir::new("cache-no-log");
    let service = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let k = service.create(CreateOptions::default()).unwrap();
    assert!(service.verify(&k.key, &[], 1).unwrap().is_valid());
    Connection::open(dir.db()).unwrap().execute_batch("DROP TABLE key_changes").unwrap();
    for _ in 0..2 {
        assert!(service.verify(&k.key, &[], 1).unwrap().is_valid());
    }
}

/// A process that falls further behind than the change log reaches (it
/// keeps the last 10,000 changes) drops its whole cache.
#[test]
fn a_cache_behind_the_pruned_log_starts_over() {
    let dir = TempDir::new("cache-pruned");
    let service = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let admin = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let k = admin.create(CreateOptions::default()).unwrap();
    let other = admin.create(CreateOptions::default()).unwrap();
    assert!(service.verify(&k.key, &[], 1).unwrap().is_valid());
    admin.revoke(&k.info.id).unwrap();
    let mut shell = Connection::open(dir.db()).unwrap();
    let tx = shell.transaction().unwrap();
    for i in 0..10_001 {
        tx.execute("UPDATE keys SET name = ?1 WHERE id = ?2", rusqlite::params![i, other.info.id]).unwrap();
    }
    tx.commit().unwrap();
    assert_eq!(service.verify(&k.key, &[], 1).unwrap().outcome, Outcome::Revoked);
}

/// A backup restored over the live file (the sqlite3 shell's `.restore`)
/// brings back an older log; a cache that saw entries the backup lacks
/// must not mistake the new entries written after the restore for them.
#[test]
fn a_restored_backup_empties_the_cache() {
    let dir = TempDir::new("cache-restore");
    let backup = dir.path().join("backup.db");
    let sqlite3 = |command: String| {
        let out = std::process::Command::new("sqlite3")
            .arg(dir.db())
            .arg(command)
            .output()
            .expect("the sqlite3 shell is required (apt-get install sqlite3)");
        assert!(out.status.success(), "{out:?}");
    };
    let service = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let kept = service.create(CreateOptions::default()).unwrap();
    sqlite3(format!(".backup '{}'", backup.display()));
    let lost = service.create(CreateOptions::default()).unwrap();
    service.update(&lost.info.id, UpdateOptions { name: Some(Some("lost".into())), ..Default::default() }).unwrap();
    assert!(service.verify(&lost.key, &[], 1).unwrap().is_valid());
    sqlite3(format!(".restore '{}'", backup.display()));
    // As many logged changes as were lost, so the log is as long again.
    let admin = Keyhouse::open(dir.db(), Config::default()).unwrap();
    admin.update(&kept.info.id, UpdateOptions { name: Some(Some("kept".into())), ..Default::default() }).unwrap();
    assert_eq!(service.verify(&lost.key, &[], 1).unwrap().outcome, Outcome::NotFound);
}

/// With `verify_cache_size` 0 nothing is answered from memory, and
/// everything still works.
#[test]
fn a_store_without_a_verify_cache_reads_every_time() {
    let dir = TempDir::new("cache-off");
    let kh = Keyhouse::open(dir.db(), Config { verify_cache_size: 0, ..Config::default() }).unwrap();
    let admin = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let k = kh.create(CreateOptions::default()).unwrap();
    for n in 1..=3 {
        assert_eq!(kh.verify(&k.key, &[], 1).unwrap().key.unwrap().usage_count, n);
        assert!(kh.verify_cached(&k.key, &[], 1).unwrap().is_none());
    }
    admin.revoke(&k.info.id).unwrap();
    assert_eq!(kh.verify(&k.key, &[], 1).unwrap().outcome, Outcome::Revoked);
}

/// Usage this process flushed shows in the rows it keeps cached.
#[test]
fn a_flush_keeps_cached_usage_counts_right() {
    let dir = TempDir::new("cache-flush");
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let k = kh.create(CreateOptions::default()).unwrap();
    for _ in 0..3 {
        kh.verify(&k.key, &[], 1).unwrap();
    }
    kh.flush().unwrap();
    assert_eq!(kh.verify(&k.key, &[], 1).unwrap().key.unwrap().usage_count, 4);
    kh.flush().unwrap();
    assert_eq!(kh.get(&k.info.id).unwrap().usage_count, 4);
    assert_eq!(kh.verify(&k.key, &[], 1).unwrap().key.unwrap().usage_count, 5);
}

/// A flush finds each key by the row number it was read under only while
/// that number still holds the key: after another tool renumbered rows (as
/// restoring a backup whose keys were inserted in another order does) or
/// deleted one, usage still reaches the key it belongs to, and no other.
#[test]
fn a_flush_finds_its_keys_by_id_once_their_rows_were_renumbered() {
    let dir = TempDir::new("flush-renumbered");
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let [a, b, c, d]: [_; 4] = std::array::from_fn(|_| kh.create(CreateOptions::default()).unwrap());
    for (k, times) in [(&a, 3), (&b, 5), (&c, 2), (&d, 7)] {
        for _ in 0..times {
            assert!(kh.verify(&k.key, &[], 1).unwrap().is_valid());
        }
    }
    let other = Connection::open(dir.db()).unwrap();
    assert_eq!(stored_usage(&other, &d.info.id), 0, "still pending");
    let seq = |id: &str| -> i64 { other.query_row("SELECT seq FROM keys WHERE id = ?1", [id], |r| r.get(0)).unwrap() };
    let (sa, sb) = (seq(&a.info.id), seq(&b.info.id));
    other
        .execute_batch(&format!(
            "BEGIN; \
             UPDATE keys SET seq = -1 WHERE seq = {sa}; UPDATE keys SET seq = {sa} WHERE seq = {sb}; \
             UPDATE keys SET seq = {sb} WHERE seq = -1; \
             UPDATE key_state SET seq = -1 WHERE seq = {sa}; UPDATE key_state SET seq = {sa} WHERE seq = {sb}; \
             UPDATE key_state SET seq = {sb} WHERE seq = -1; \
             DELETE FROM keys WHERE id = '{}'; COMMIT;",
            c.info.id
        ))
        .unwrap();
    assert_eq!((seq(&a.info.id), seq(&b.info.id)), (sb, sa));
    kh.flush().unwrap();
    let stored = |k: &keyhouse::CreatedKey| stored_usage(&other, &k.info.id);
    assert_eq!((stored(&a), stored(&b), stored(&d)), (3, 5, 7));
    assert_eq!(kh.get(&a.info.id).unwrap().usage_count, 3);
    assert_eq!(kh.get(&c.info.id).unwrap_err().code(), ErrorCode::NotFound);
}

#[test]
fn cached_verify_keeps_counting_usage_and_honours_expiry() {
    let dir = TempDir::new("cache-usage");
    let (kh, clock) = with_clock(&dir.db(), Config::default());
    let c = kh.create(CreateOptions { expires_in: Some(Duration::from_secs(10)), ..Default::default() }).unwrap();
    for n in 1..=50 {
        let r = kh.verify(&c.key, &[], 1).unwrap();
        assert_eq!(r.key.unwrap().usage_count, n);
    }
    clock.advance_millis(10_000);
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Expired);
    kh.close().unwrap();
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn rows_no_keyhouse_writes_are_store_errors_never_panics() {
    let dir = TempDir::new("corrupt");
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let rl = RateLimit { limit: 5, window: Duration::from_secs(60) };
    let key_state = "UPDATE key_state SET {} WHERE seq = (SELECT seq FROM keys WHERE id = ?1)";
    let keys = "UPDATE keys SET {} WHERE id = ?1";
    let corruptions = [
        (keys, "rate_limit = 0"),
        (keys, "rate_limit = 5000000000"),
        (keys, "rate_window_ms = 0"),
        (keys, "rate_limit = NULL"),
        (key_state, "remaining = -1"),
        (keys, "expires_at = 9223372036854775807"),
        (keys, "created_at = -9223372036854775808"),
        (key_state, "usage_count = -5"),
        (keys, "refill_amount = 3"),
        (key_state, "rate_tat = 9223372036854775807"),
        (keys, "permissions = '[\"files*\"]'"),
        // A key whose state row another tool deleted.
        ("DELETE FROM key_state WHERE seq = (SELECT seq FROM keys WHERE id = ?1) {}", ""),
    ];
    for (sql, set) in corruptions {
        let c = kh.create(CreateOptions { rate_limit: Some(rl), ..Default::default() }).unwrap();
        // Another tool (the sqlite3 shell, a bad migration) edits the row.
        let other = Connection::open(dir.db()).unwrap();
        assert_eq!(other.execute(&sql.replace("{}", set), [&c.info.id]).unwrap(), 1, "{set}");
        drop(other);
        let verify = kh.verify(&c.key, &[], 1).unwrap_err();
        assert_eq!(verify.code(), ErrorCode::StoreError, "{set}: {verify}");
        assert_eq!(kh.get(&c.info.id).unwrap_err().code(), ErrorCode::StoreError, "{set}");
        kh.delete(&c.info.id).unwrap();
    }
}

#[test]
fn roll_follows_the_create_policy() {
    let dir = TempDir::new("roll-policy");
    let config =
        Config { max_expiry: Some(Duration::from_secs(3600)), max_keys_per_owner: Some(2), ..Config::default() };
    let (kh, clock) = with_clock(&dir.db(), config);
    let a = kh.create(owned("o")).unwrap();
    let b = kh.create(owned("o")).unwrap();
    assert_eq!(kh.create(owned("o")).unwrap_err().code(), ErrorCode::KeyLimitExceeded);
    // At the limit, a roll still works: the old key is on its way out.
    let a2 = kh.roll(&a.info.id, Duration::from_secs(60)).unwrap();
    assert_eq!(a2.info.expires_at, Some(Timestamp::from_millis(T0 + 3_600_000)));
    // The old key in its grace period and b and a2: three active keys.
    assert_eq!(kh.roll(&b.info.id, Duration::ZERO).unwrap_err().code(), ErrorCode::KeyLimitExceeded);
    clock.advance_millis(61_000);
    // Once the grace period is over, expired keys no longer count.
    kh.roll(&b.info.id, Duration::ZERO).unwrap();
    clock.advance_millis(3_600_000);
    assert_eq!(kh.roll(&a2.info.id, Duration::ZERO).unwrap_err().code(), ErrorCode::InvalidArgument, "expired");
    // Grace periods that overflow are refused, not saturated into year 292278994.
    let c = kh.create(CreateOptions::default()).unwrap();
    for grace in [Duration::MAX, Duration::from_secs(u64::MAX / 1000), keyhouse::MAX_DURATION] {
        assert_eq!(kh.roll(&c.info.id, grace).unwrap_err().code(), ErrorCode::InvalidArgument);
    }
}

#[test]
fn rolled_keys_share_one_balance() {
    // Three rolls of a 3-credit key with an hour of grace: 3 VALID in all.
    let kh = memory();
    let mut keys = vec![kh.create(CreateOptions { remaining: Some(3), ..Default::default() }).unwrap()];
    for _ in 0..3 {
        let last = keys.last().unwrap().info.id.clone();
        keys.push(kh.roll(&last, Duration::from_secs(3600)).unwrap());
    }
    let valid = (0..3).flat_map(|_| &keys).filter(|k| kh.verify(&k.key, &[], 1).unwrap().is_valid()).count();
    assert_eq!(valid, 3);
    // Every generation shows the one balance, whether read alone or listed.
    let listed = kh.list(&ListOptions::default()).unwrap().keys;
    assert!(listed.iter().all(|k| k.remaining == Some(0)), "{listed:?}");
    assert!(keys.iter().all(|k| kh.get(&k.info.id).unwrap().remaining == Some(0)));
    kh.update(&keys[3].info.id, UpdateOptions { remaining: Some(Some(7)), ..Default::default() }).unwrap();
    let listed = kh.list(&ListOptions::default()).unwrap().keys;
    assert!(listed.iter().all(|k| k.remaining == Some(7)), "{listed:?}");
    assert!(keys.iter().all(|k| kh.get(&k.info.id).unwrap().remaining == Some(7)));
    kh.update(&keys[3].info.id, UpdateOptions { remaining: Some(Some(0)), ..Default::default() }).unwrap();
    // A key rolled before its replacement got limits spends them too.
    let plain = kh.create(CreateOptions::default()).unwrap();
    let next = kh.roll(&plain.info.id, Duration::from_secs(3600)).unwrap();
    kh.update(&next.info.id, keyhouse::UpdateOptions { remaining: Some(Some(1)), ..Default::default() }).unwrap();
    assert!(kh.verify(&plain.key, &[], 1).unwrap().is_valid());
    assert_eq!(kh.verify(&plain.key, &[], 1).unwrap().outcome, Outcome::UsageExceeded);
    assert_eq!(kh.verify(&next.key, &[], 1).unwrap().outcome, Outcome::UsageExceeded);
    // Deleting the newest key brings no second balance back.
    kh.delete(&keys[3].info.id).unwrap();
    assert!(keys[..3].iter().all(|k| kh.verify(&k.key, &[], 1).unwrap().outcome == Outcome::UsageExceeded));
}

/// A key with limits is decided in a write transaction that reads it afresh,
/// so verify routes it there from its cached row even when that row is
/// stale. These are the cases where the stale row alone would be wrong.
#[test]
fn a_stale_cached_row_only_routes_a_verify_and_never_decides_it() {
    let dir = TempDir::new("stale-route");
    let service = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let admin = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let c = service.create(CreateOptions { remaining: Some(10), ..Default::default() }).unwrap();
    assert!(service.verify(&c.key, &[], 1).unwrap().is_valid());

    // A wrong secret for the same id is turned away without a write.
    let observer = Connection::open(dir.db()).unwrap();
    let version = || -> i64 { observer.query_row("PRAGMA data_version", [], |r| r.get(0)).unwrap() };
    let forged = common::forge_same_id(&c.key);
    let v0 = version();
    assert_eq!(service.verify(&forged, &[], 1).unwrap().outcome, Outcome::NotFound);
    assert_eq!(version(), v0, "a wrong secret wrote to the store");

    // Another process revokes: the stale row still has credits and no revocation.
    admin.revoke(&c.info.id).unwrap();
    assert_eq!(service.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Revoked);

    // Another process removes the limits: the next verify is decided on the
    // fresh row, and the ones after it no longer write.
    let d = service.create(CreateOptions { remaining: Some(10), ..Default::default() }).unwrap();
    assert!(service.verify(&d.key, &[], 1).unwrap().is_valid());
    admin.update(&d.info.id, UpdateOptions { remaining: Some(None), ..Default::default() }).unwrap();
    assert!(service.verify(&d.key, &[], 1).unwrap().is_valid());
    let v1 = version();
    for _ in 0..3 {
        let v = service.verify(&d.key, &[], 1).unwrap();
        assert_eq!((v.outcome, v.key.unwrap().remaining), (Outcome::Valid, None));
    }
    assert_eq!(version(), v1, "a key without limits kept taking the write path");
}

#[test]
fn a_stale_row_hashed_with_a_retired_pepper_is_read_again() {
    let dir = TempDir::new("stale-pepper");
    let (p1, p2) = (Pepper::new("p1", &[1; 32]).unwrap(), Pepper::new("p2", &[2; 32]).unwrap());
    let old = Keyhouse::open(dir.db(), Config { pepper: Some(p1.clone()), ..Config::default() }).unwrap();
    let c = old.create(CreateOptions { remaining: Some(10), ..Default::default() }).unwrap();
    // A service that only knows the new pepper caches the row hashed with the old one.
    let new_only = Keyhouse::open(dir.db(), Config { pepper: Some(p2.clone()), ..Config::default() }).unwrap();
    assert_eq!(new_only.verify(&c.key, &[], 1).unwrap().outcome, Outcome::NotFound);
    // A service in the middle of the rotation rehashes the key to the new pepper.
    let rotating = Config { pepper: Some(p2), previous_peppers: vec![p1], ..Config::default() };
    let rotating = Keyhouse::open(dir.db(), rotating).unwrap();
    assert!(rotating.verify(&c.key, &[], 1).unwrap().is_valid());
    // The cached row names the retired pepper; the fresh one matches.
    assert!(new_only.verify(&c.key, &[], 1).unwrap().is_valid());
}

#[test]
fn a_refused_or_deleted_key_with_limits_is_answered_without_the_write_lock() {
    let dir = TempDir::new("refused-no-lock");
    let config = Config { busy_timeout: Duration::from_millis(200), ..Config::default() };
    let service = Keyhouse::open(dir.db(), config.clone()).unwrap();
    let admin = Keyhouse::open(dir.db(), config).unwrap();
    let revoked = service.create(CreateOptions { remaining: Some(10), ..Default::default() }).unwrap();
    let deleted = service.create(CreateOptions { remaining: Some(10), ..Default::default() }).unwrap();
    for k in [&revoked, &deleted] {
        assert!(service.verify(&k.key, &[], 1).unwrap().is_valid());
    }
    admin.revoke(&revoked.info.id).unwrap();
    admin.delete(&deleted.info.id).unwrap();
    // The first verify after the change may take the write path once.
    assert_eq!(service.verify(&revoked.key, &[], 1).unwrap().outcome, Outcome::Revoked);
    assert_eq!(service.verify(&deleted.key, &[], 1).unwrap().outcome, Outcome::NotFound);
    // Another process holds the write lock: later verifies must not need it.
    let holder = Connection::open(dir.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    for _ in 0..3 {
        assert_eq!(service.verify(&revoked.key, &[], 1).unwrap().outcome, Outcome::Revoked);
        assert_eq!(service.verify(&deleted.key, &[], 1).unwrap().outcome, Outcome::NotFound);
    }
    holder.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn after_a_rehash_spends_do_not_rewrite_the_hash_again() {
    let dir = TempDir::new("rehash-once");
    let (p1, p2) = (Pepper::new("p1", &[1; 32]).unwrap(), Pepper::new("p2", &[2; 32]).unwrap());
    let old = Keyhouse::open(dir.db(), Config { pepper: Some(p1.clone()), ..Config::default() }).unwrap();
    let c = old.create(CreateOptions { remaining: Some(100), ..Default::default() }).unwrap();
    let rotating = Config { pepper: Some(p2), previous_peppers: vec![p1], ..Config::default() };
    let service = Keyhouse::open(dir.db(), rotating).unwrap();
    let counter = Connection::open(dir.db()).unwrap();
    counter
        .execute_batch(
            "CREATE TABLE hash_writes (n INTEGER); INSERT INTO hash_writes VALUES (0);
             CREATE TRIGGER count_hash_writes AFTER UPDATE OF hash ON keys
             BEGIN UPDATE hash_writes SET n = n + 1; END;",
        )
        .unwrap();
    for _ in 0..5 {
        assert!(service.verify(&c.key, &[], 1).unwrap().is_valid());
    }
    let n: i64 = counter.query_row("SELECT n FROM hash_writes", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1, "the key was re-hashed once, then spent with its new hash");
    assert_eq!(service.get(&c.info.id).unwrap().remaining, Some(95));
}

#[test]
fn a_state_row_left_behind_by_another_tool_does_not_block_create() {
    let dir = TempDir::new("orphan-state");
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    kh.create(CreateOptions::default()).unwrap();
    let other = Connection::open(dir.db()).unwrap();
    other.execute("INSERT INTO key_state (seq, usage_count) VALUES ((SELECT max(seq) + 1 FROM keys), 99)", []).unwrap();
    let c = kh.create(CreateOptions { remaining: Some(3), ..Default::default() }).unwrap();
    let info = kh.get(&c.info.id).unwrap();
    assert_eq!((info.usage_count, info.remaining), (0, Some(3)));
}

#[test]
fn a_migration_that_cannot_run_says_why_and_changes_nothing() {
    let dir = TempDir::new("migrate-blocked");
    let old = Connection::open(dir.db()).unwrap();
    old.execute_batch(SCHEMA_V2_FILE).unwrap();
    old.execute_batch("CREATE INDEX my_unused_keys ON keys (last_used_at);").unwrap();
    drop(old);
    let err = Keyhouse::open(dir.db(), Config::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreError);
    assert!(err.to_string().contains("from version 2 to 3"), "{err}");
    let conn = Connection::open(dir.db()).unwrap();
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, 2);
}

#[test]
fn a_prefix_rewritten_by_another_tool_no_longer_verifies_and_a_valid_result_shows_the_stored_names() {
    let dir = TempDir::new("prefix-rewritten");
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let c = kh.create(CreateOptions { prefix: Some("acme".into()), ..Default::default() }).unwrap();
    let other = kh.create(CreateOptions { prefix: Some("acme".into()), ..Default::default() }).unwrap();
    for _ in 0..2 {
        // The second verify is served by the cache.
        let shown = kh.verify(&c.key, &[], 1).unwrap().key.unwrap();
        assert_eq!((shown.id.as_str(), shown.prefix.as_str()), (c.info.id.as_str(), "acme"));
    }
    kh.verify(&other.key, &[], 1).unwrap();
    let shell = Connection::open(dir.db()).unwrap();
    shell.execute("UPDATE keys SET prefix = 'acmf' WHERE id = ?1", [&c.info.id]).unwrap();
    for _ in 0..2 {
        assert_eq!(kh.verify(&c.key, &[], 1).unwrap().outcome, Outcome::NotFound);
    }
    // The key of the same prefix beside it is untouched.
    assert!(kh.verify(&other.key, &[], 1).unwrap().is_valid());
    kh.close().unwrap();
}
