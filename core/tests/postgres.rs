//! The PostgreSQL backend against a real server (`KEYHOUSE_TEST_PG`):
//! exactness, propagation of changes between stores, fail-closed, and
//! every failure a network database adds.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyhouse::seam::{ManualClock, OsRandom, Seams};
use keyhouse::{Config, CreateOptions, ErrorCode, Keyhouse, Outcome, RateLimit, Timestamp, UpdateOptions};

use common::{pg_url, PgSchema};

const T0: i64 = 1_800_000_000_000;

fn config(schema: &PgSchema) -> Config {
    Config { schema: schema.0.clone(), ..Config::default() }
}

fn open(schema: &PgSchema) -> Keyhouse {
    Keyhouse::open(pg_url(), config(schema)).unwrap()
}

fn open_at(url: &str, config: Config, clock: &Arc<ManualClock>) -> Keyhouse {
    Keyhouse::open_with_seams(url.as_ref(), config, Seams { clock: clock.clone(), random: Arc::new(OsRandom) }).unwrap()
}

/// Ends, as the server would, the sessions named `application_name` whose
/// last statement touched `schema`; how many.
fn terminate(application_name: &str, schema: &PgSchema) -> i64 {
    PgSchema::client()
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND strpos(query, $2) > 0",
            &[&application_name, &schema.0],
        )
        .unwrap()
        .get(0)
}

/// Verifies `key` until `outcome` comes back; how long that took.
fn until(kh: &Keyhouse, key: &str, outcome: Outcome, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let got = kh.verify(key, &[], 1).unwrap().outcome;
        if got == outcome {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "still {got:?} after {limit:?}, expected {outcome:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_store_opens_on_a_postgres_url_and_keeps_its_tables_in_its_schema() {
    let schema = PgSchema::new("basic");
    let kh = open(&schema);
    let c = kh.create(CreateOptions { remaining: Some(2), ..Default::default() }).unwrap();
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
    let mut psql = PgSchema::client();
    let n: i64 = psql.query_one(&format!("SELECT count(*) FROM \"{}\".keys", schema.0), &[]).unwrap().get(0);
    assert_eq!(n, 1);
    let stored: String = psql.query_one(&format!("SELECT hash FROM \"{}\".keys", schema.0), &[]).unwrap().get(0);
    assert!(!stored.contains(&c.key[c.key.len() - 20..]), "only the hash is stored");
    // postgresql:// is accepted too.
    let other = Keyhouse::open(pg_url().replacen("postgres://", "postgresql://", 1), config(&schema)).unwrap();
    assert_eq!(other.verify(&c.key, &[], 1).unwrap().remaining(), Some(0));
}

trait Remaining {
    fn remaining(&self) -> Option<i64>;
}

impl Remaining for keyhouse::VerifyResult {
    fn remaining(&self) -> Option<i64> {
        self.key.as_ref().and_then(|k| k.remaining)
    }
}

#[test]
fn credits_and_rate_limits_are_exact_across_stores_and_threads() {
    let schema = PgSchema::new("exact");
    // A fixed clock: the GCRA allowance is then exactly the limit.
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let url = pg_url();
    let stores: Vec<Arc<Keyhouse>> = (0..3).map(|_| Arc::new(open_at(&url, config(&schema), &clock))).collect();
    let credits = stores[0].create(CreateOptions { remaining: Some(300), ..Default::default() }).unwrap();
    let limited = stores[0]
        .create(CreateOptions {
            rate_limit: Some(RateLimit { limit: 150, window: Duration::from_secs(60) }),
            ..Default::default()
        })
        .unwrap();
    let valid = Arc::new(AtomicU32::new(0));
    let admitted = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..12)
        .map(|t| {
            let kh = Arc::clone(&stores[t % stores.len()]);
            let (a, b) = (credits.key.clone(), limited.key.clone());
            let (valid, admitted) = (Arc::clone(&valid), Arc::clone(&admitted));
            std::thread::spawn(move || {
                for _ in 0..60 {
                    match kh.verify(&a, &[], 1).unwrap().outcome {
                        Outcome::Valid => valid.fetch_add(1, Ordering::Relaxed),
                        Outcome::UsageExceeded => 0,
                        other => panic!("{other:?}"),
                    };
                    match kh.verify(&b, &[], 1).unwrap().outcome {
                        Outcome::Valid => admitted.fetch_add(1, Ordering::Relaxed),
                        Outcome::RateLimited => 0,
                        other => panic!("{other:?}"),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(valid.load(Ordering::Relaxed), 300, "720 tries at 300 credits");
    assert_eq!(admitted.load(Ordering::Relaxed), 150, "720 tries at a burst of 150");
    assert_eq!(stores[1].get(&credits.info.id).unwrap().remaining, Some(0));
}

#[test]
fn a_refused_spend_consumes_nothing_and_an_update_is_not_lost_to_a_spend() {
    let schema = PgSchema::new("refused");
    let (a, b) = (open(&schema), open(&schema));
    let c = a.create(CreateOptions { remaining: Some(1), ..Default::default() }).unwrap();
    assert_eq!(a.verify(&c.key, &[], 5).unwrap().outcome, Outcome::UsageExceeded);
    assert_eq!(b.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::UsageExceeded);
    // A top-up on one store is spent exactly by the other, though its cached copy said 0.
    b.update(&c.info.id, UpdateOptions { remaining: Some(Some(2)), ..Default::default() }).unwrap();
    until(&a, &c.key, Outcome::Valid, Duration::from_secs(2));
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().remaining(), Some(0));
    assert_eq!(b.verify(&c.key, &[], 1).unwrap().outcome, Outcome::UsageExceeded);
}

#[test]
fn a_revoke_reaches_another_store_fast_and_its_own_at_once() {
    let schema = PgSchema::new("revoke");
    let (a, b) = (open(&schema), open(&schema));
    let mut times = Vec::new();
    for _ in 0..5 {
        let c = b.create(CreateOptions::default()).unwrap();
        assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
        b.revoke(&c.info.id).unwrap();
        assert_eq!(b.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Revoked, "a store's own write");
        times.push(until(&a, &c.key, Outcome::Revoked, Duration::from_secs(2)));
    }
    times.sort();
    eprintln!("revoke reached the other store after {times:?}");
    assert!(times[4] < Duration::from_millis(1500), "within max_staleness and a margin: {times:?}");
}

#[test]
fn with_notifications_lost_the_poll_still_delivers_within_max_staleness() {
    let schema = PgSchema::new("nolisten");
    let b = open(&schema);
    // The listener can never connect: only the staleness bound keeps `a` current.
    let a = Keyhouse::open(
        pg_url(),
        Config {
            listen_url: Some("postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable".into()),
            max_staleness: Duration::from_millis(300),
            connect_timeout: Duration::from_millis(500),
            ..config(&schema)
        },
    )
    .unwrap();
    let c = b.create(CreateOptions::default()).unwrap();
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
    b.update(&c.info.id, UpdateOptions { enabled: Some(false), ..Default::default() }).unwrap();
    let took = until(&a, &c.key, Outcome::Disabled, Duration::from_secs(2));
    assert!(took < Duration::from_millis(600), "max_staleness 300 ms, took {took:?}");
}

#[test]
fn a_killed_listener_connection_still_lets_a_revoke_through_within_max_staleness() {
    let schema = PgSchema::new("killed");
    let staleness = Duration::from_millis(400);
    let a = Keyhouse::open(pg_url(), Config { max_staleness: staleness, ..config(&schema) }).unwrap();
    let b = open(&schema);
    let c = b.create(CreateOptions::default()).unwrap();
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
    let killed = terminate("keyhouse-listener", &schema);
    assert!(killed >= 2, "both stores' listeners were found and killed ({killed})");
    b.revoke(&c.info.id).unwrap();
    let took = until(&a, &c.key, Outcome::Revoked, Duration::from_secs(3));
    assert!(took < staleness + Duration::from_millis(400), "took {took:?}");
}

#[test]
fn changes_made_with_psql_reach_the_cache_too() {
    let schema = PgSchema::new("psql");
    let a = open(&schema);
    let c = a.create(CreateOptions::default()).unwrap();
    let d = a.create(CreateOptions::default()).unwrap();
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
    let mut psql = PgSchema::client();
    psql.execute(&format!("UPDATE \"{}\".keys SET enabled = false WHERE id = $1", schema.0), &[&c.info.id]).unwrap();
    until(&a, &c.key, Outcome::Disabled, Duration::from_secs(2));
    assert_eq!(a.verify(&d.key, &[], 1).unwrap().outcome, Outcome::Valid);
    psql.batch_execute(&format!("TRUNCATE \"{}\".keys CASCADE", schema.0)).unwrap();
    until(&a, &d.key, Outcome::NotFound, Duration::from_secs(2));
}

#[test]
fn a_plain_verify_writes_nothing_and_usage_does_not_invalidate() {
    let schema = PgSchema::new("usage");
    let a = open(&schema);
    let c = a.create(CreateOptions::default()).unwrap();
    let mut psql = PgSchema::client();
    let epoch = |psql: &mut postgres::Client| -> i64 {
        psql.query_one(&format!("SELECT n FROM \"{}\".epoch", schema.0), &[]).unwrap().get(0)
    };
    let usage = |psql: &mut postgres::Client| -> i64 {
        psql.query_one(&format!("SELECT usage_count FROM \"{}\".key_state", schema.0), &[]).unwrap().get(0)
    };
    let before = epoch(&mut psql);
    for _ in 0..50 {
        assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
    }
    assert_eq!(usage(&mut psql), 0, "usage is batched");
    a.flush().unwrap();
    assert_eq!(usage(&mut psql), 50);
    assert_eq!(epoch(&mut psql), before, "a usage write is no change to invalidate");
    assert_eq!(a.get(&c.info.id).unwrap().usage_count, 50);
    // The cached row shows this store's flushed uses too.
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().key.unwrap().usage_count, 51);
}

#[test]
fn a_schema_at_version_1_is_migrated_and_keeps_its_keys() {
    let schema = PgSchema::new("migrate1");
    let kh = Keyhouse::open(pg_url(), config(&schema)).unwrap();
    let made = kh.create(CreateOptions { remaining: Some(3), ..Default::default() }).unwrap();
    kh.close().unwrap();
    let mut psql = PgSchema::client();
    // Version 1 had no limit_epoch.
    psql.batch_execute(&format!(
        "ALTER TABLE \"{s}\".key_state DROP COLUMN limit_epoch; UPDATE \"{s}\".meta SET version = 1",
        s = schema.0
    ))
    .unwrap();
    let kh = Keyhouse::open(pg_url(), config(&schema)).unwrap();
    assert_eq!(kh.verify(&made.key, &[], 1).unwrap().key.unwrap().remaining, Some(2));
    let v: i32 = psql.query_one(&format!("SELECT version FROM \"{}\".meta", schema.0), &[]).unwrap().get(0);
    assert_eq!(v, 2);
}

#[test]
fn a_closed_store_lets_go_of_its_connections_soon_even_with_a_long_max_staleness() {
    let schema = PgSchema::new("close");
    let kh = Keyhouse::open(pg_url(), Config { max_staleness: Duration::from_secs(3600), ..config(&schema) }).unwrap();
    let made = kh.create(CreateOptions::default()).unwrap();
    assert!(kh.verify(&made.key, &[], 1).unwrap().is_valid());
    let mut psql = PgSchema::client();
    let count = |psql: &mut postgres::Client| -> i64 {
        let pattern = format!("%\"{}\"%", schema.0);
        psql.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
            &[&pattern],
        )
        .unwrap()
        .get(0)
    };
    assert!(count(&mut psql) >= 1, "the listener's connection is open");
    kh.close().unwrap();
    let t = Instant::now();
    while count(&mut psql) > 0 {
        assert!(t.elapsed() < Duration::from_secs(3), "a closed store still holds connections after 3 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn many_stores_opening_a_new_schema_at_once_migrate_it_once() {
    let schema = PgSchema::new("migrate");
    let url = pg_url();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (url, config) = (url.clone(), config(&schema));
            std::thread::spawn(move || Keyhouse::open(url, config).map(|kh| kh.close()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap().unwrap();
    }
    let mut psql = PgSchema::client();
    let v: i32 = psql.query_one(&format!("SELECT version FROM \"{}\".meta", schema.0), &[]).unwrap().get(0);
    assert_eq!(v, 2, "the latest schema version");
    psql.execute(&format!("UPDATE \"{}\".meta SET version = 99", schema.0), &[]).unwrap();
    let err = Keyhouse::open(url, config(&schema)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaTooNew, "{err}");
}

#[test]
fn calling_from_inside_an_async_runtime_is_an_error_not_a_panic() {
    let schema = PgSchema::new("tokio");
    let kh = open(&schema);
    let c = kh.create(CreateOptions::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let err = rt.block_on(async { kh.get(&c.info.id) }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreError);
    assert!(err.to_string().contains("async runtime"), "{err}");
    let err = rt.block_on(async { Keyhouse::open(pg_url(), config(&schema)) }).unwrap_err();
    assert!(err.to_string().contains("spawn_blocking"), "{err}");
    // Off the runtime it works as ever.
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
}

#[test]
fn connection_failures_are_clear_errors_within_connect_timeout_and_never_show_the_password() {
    let quick = Config { connect_timeout: Duration::from_millis(800), ..Config::default() };
    let cases = [("postgres://app:hunter2secret@127.0.0.1:1/db?sslmode=disable", "unreachable")];
    for (url, what) in cases {
        let start = Instant::now();
        let err = Keyhouse::open(url, quick.clone()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::StoreError, "{what}: {err}");
        assert!(!err.to_string().contains("hunter2secret"), "{what}: {err}");
        assert!(err.to_string().contains("app:***@"), "{what}: the URL is shown redacted: {err}");
        assert!(start.elapsed() < Duration::from_secs(3), "{what}: took {:?}", start.elapsed());
    }
    // A wrong password.
    let url = redact_then(&pg_url(), "hunter2secret");
    let err = Keyhouse::open(&url, quick.clone()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreError, "{err}");
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
    assert!(err.to_string().contains("password authentication failed"), "{err}");
    // TLS that cannot be verified: the server's self-signed certificate.
    let tls = pg_url().replace("sslmode=disable", "sslmode=require");
    let err = Keyhouse::open(&tls, quick.clone()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreError, "{err}");
    // Debug of a config never shows a listen URL's password.
    let c = Config { listen_url: Some("postgres://u:hunter2secret@h/db".into()), ..Config::default() };
    assert!(!format!("{c:?}").contains("hunter2secret"));
}

/// `url` with its password replaced by `password`.
fn redact_then(url: &str, password: &str) -> String {
    let at = url.rfind('@').unwrap();
    let colon = url[..at].rfind(':').unwrap();
    format!("{}:{password}{}", &url[..colon], &url[at..])
}

#[test]
fn a_statement_timeout_is_store_busy() {
    let schema = PgSchema::new("timeout");
    let kh =
        Keyhouse::open(pg_url(), Config { statement_timeout: Duration::from_millis(300), ..config(&schema) }).unwrap();
    let c = kh.create(CreateOptions::default()).unwrap();
    let mut psql = PgSchema::client();
    let mut tx = psql.transaction().unwrap();
    tx.execute(&format!("SELECT 1 FROM \"{}\".keys WHERE id = $1 FOR UPDATE", schema.0), &[&c.info.id]).unwrap();
    let start = Instant::now();
    let err = kh.revoke(&c.info.id).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreBusy, "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
    tx.rollback().unwrap();
    assert!(kh.revoke(&c.info.id).is_ok(), "nothing was half-written");
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Revoked);
}

/// A TCP proxy in front of the server that the test can cut, as a network
/// partition or a stopped server would.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let target: postgres::Config = pg_url().parse().unwrap();
        let host = match &target.get_hosts()[0] {
            postgres::config::Host::Tcp(h) => h.clone(),
            other => panic!("the proxy needs a TCP host, got {other:?}"),
        };
        let upstream = format!("{host}:{}", target.get_ports().first().copied().unwrap_or(5432));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (up2, conns2) = (Arc::clone(&up), Arc::clone(&conns));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let mut list = conns2.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, conns }
    }

    /// The test server's URL, through the proxy.
    fn url(&self) -> String {
        let url = pg_url();
        let at = url.rfind('@').unwrap();
        let slash = at + url[at..].find('/').unwrap();
        format!("{}@127.0.0.1:{}{}", &url[..at], self.port, &url[slash..])
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[test]
fn with_the_server_gone_verify_fails_closed_after_max_staleness_and_recovers() {
    let schema = PgSchema::new("closed");
    let proxy = Proxy::start();
    let staleness = Duration::from_millis(300);
    let kh = Keyhouse::open(
        proxy.url(),
        Config { max_staleness: staleness, connect_timeout: Duration::from_millis(500), ..config(&schema) },
    )
    .unwrap();
    let c = kh.create(CreateOptions::default()).unwrap();
    let credits = kh.create(CreateOptions { remaining: Some(10), ..Default::default() }).unwrap();
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Valid);
    assert_eq!(kh.verify(&credits.key, &[], 1).unwrap().outcome, Outcome::Valid);
    proxy.cut();
    let start = Instant::now();
    // A consuming verify cannot record its credit: never VALID.
    let spent = kh.verify(&credits.key, &[], 1);
    assert!(spent.is_err(), "a spend with the server gone: {spent:?}");
    // A cached key answers until the bound, then fails closed.
    let err = loop {
        match kh.verify(&c.key, &[], 1) {
            Ok(r) => {
                assert_eq!(r.outcome, Outcome::Valid);
                assert!(start.elapsed() < staleness, "VALID after the bound: {:?}", start.elapsed());
            }
            Err(e) => break e,
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(err.code(), ErrorCode::StoreError, "{err}");
    assert!(start.elapsed() < Duration::from_secs(3), "fails within connect_timeout: {:?}", start.elapsed());
    proxy.restore();
    until(&kh, &c.key, Outcome::Valid, Duration::from_secs(5));
    let left = kh.get(&credits.info.id).unwrap().remaining;
    assert_eq!(left, Some(9), "the failed spend recorded nothing");
}

#[test]
fn a_dropped_schema_mid_run_is_a_store_error_not_a_panic() {
    let schema = PgSchema::new("dropped");
    let kh = open(&schema);
    let c = kh.create(CreateOptions { remaining: Some(5), ..Default::default() }).unwrap();
    PgSchema::client().batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", schema.0)).unwrap();
    let err = kh.create(CreateOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreError, "{err}");
    assert_eq!(kh.get(&c.info.id).unwrap_err().code(), ErrorCode::StoreError);
    // The spend and the bounded cache both go to the server, and fail.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap_err().code(), ErrorCode::StoreError);
}

#[test]
fn copy_moves_every_key_from_sqlite_with_every_field_and_is_idempotent() {
    let dir = common::TempDir::new("copy");
    let schema = PgSchema::new("copy");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let sqlite = open_at(dir.db().to_str().unwrap(), Config::default(), &clock);
    let plain = sqlite
        .create(CreateOptions {
            owner_id: Some("team".into()),
            name: Some("ci".into()),
            prefix: Some("acme_live".into()),
            permissions: Some(vec!["files:*".into()]),
            metadata: Some(serde_json::json!({"plan": "pro", "n": 3}).as_object().unwrap().clone()),
            expires_in: Some(Duration::from_secs(3600)),
            ..Default::default()
        })
        .unwrap();
    let limited = sqlite
        .create(CreateOptions {
            remaining: Some(10),
            refill: Some(keyhouse::Refill { amount: 10, interval: Duration::from_secs(60) }),
            rate_limit: Some(RateLimit { limit: 5, window: Duration::from_secs(1) }),
            ..Default::default()
        })
        .unwrap();
    let revoked = sqlite.create(CreateOptions::default()).unwrap();
    sqlite.revoke(&revoked.info.id).unwrap();
    clock.advance_millis(5);
    for _ in 0..3 {
        assert_eq!(sqlite.verify(&plain.key, &[], 1).unwrap().outcome, Outcome::Valid);
        assert_eq!(sqlite.verify(&limited.key, &[], 2).unwrap().outcome, Outcome::Valid);
    }
    let rolled = sqlite.roll(&limited.info.id, Duration::from_secs(600)).unwrap();
    sqlite.flush().unwrap();

    let pg = open_at(&pg_url(), config(&schema), &clock);
    let report = sqlite.copy_into(&pg).unwrap();
    assert_eq!((report.copied, report.skipped), (4, 0));
    let again = sqlite.copy_into(&pg).unwrap();
    assert_eq!((again.copied, again.skipped), (0, 4), "a re-run copies nothing twice");
    for id in [&plain.info.id, &limited.info.id, &revoked.info.id, &rolled.info.id] {
        assert_eq!(pg.get(id).unwrap(), sqlite.get(id).unwrap(), "every field of {id}");
    }
    let all = keyhouse::ListOptions { include_revoked: true, ..Default::default() };
    assert_eq!(pg.list(&all).unwrap().keys, sqlite.list(&all).unwrap().keys);
    // The same plaintext verifies, and the rolled pair still shares one balance.
    assert_eq!(pg.verify(&plain.key, &["files:read"], 1).unwrap().outcome, Outcome::Valid);
    assert_eq!(pg.verify(&revoked.key, &[], 1).unwrap().outcome, Outcome::Revoked);
    let old = pg.verify(&limited.key, &[], 1).unwrap();
    assert_eq!(old.outcome, Outcome::Valid);
    assert_eq!(old.remaining(), Some(3), "10 - 3 x 2 - 1, spent through the replacement");
    assert_eq!(pg.verify(&rolled.key, &[], 1).unwrap().remaining(), Some(2));
}

/// The spend statement decides in SQL what `verify::consume` decides in
/// Rust: random limits and request sequences give the same outcomes, the
/// same balances and the same rate-limit state on PostgreSQL as on SQLite.
#[test]
fn spends_decide_on_postgres_exactly_as_on_sqlite() {
    let dir = common::TempDir::new("differential");
    let schema = PgSchema::new("differential");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let sqlite = open_at(dir.db().to_str().unwrap(), Config::default(), &clock);
    let pg = open_at(&pg_url(), config(&schema), &clock);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut compared = 0;
    for case in 0..40 {
        let remaining = (next(3) > 0).then(|| next(20) as i64);
        let refill = (remaining.is_some() && next(2) == 0)
            .then(|| keyhouse::Refill { amount: 1 + next(10) as i64, interval: Duration::from_millis(1 + next(500)) });
        let rate_limit = (next(3) > 0 || remaining.is_none())
            .then(|| RateLimit { limit: 1 + next(7) as u32, window: Duration::from_millis(1 + next(1000)) });
        let options = CreateOptions { remaining, refill, rate_limit, ..Default::default() };
        let (a, b) = (sqlite.create(options.clone()).unwrap(), pg.create(options).unwrap());
        for step in 0..40 {
            clock.advance_millis(next(120) as i64);
            let cost = next(4) as u32;
            let (x, y) = (sqlite.verify(&a.key, &[], cost).unwrap(), pg.verify(&b.key, &[], cost).unwrap());
            let ctx = format!("case {case} step {step}: {remaining:?} {refill:?} {rate_limit:?} cost {cost}");
            assert_eq!(x.outcome, y.outcome, "{ctx}");
            assert_eq!(x.retry_after, y.retry_after, "{ctx}");
            assert_eq!(x.rate_limit, y.rate_limit, "{ctx}");
            let (kx, ky) = (x.key.unwrap(), y.key.unwrap());
            assert_eq!((kx.remaining, kx.last_refill_at), (ky.remaining, ky.last_refill_at), "{ctx}");
            compared += 1;
        }
    }
    assert_eq!(compared, 1600);
}

#[test]
fn verify_cached_answers_only_what_needs_no_round_trip() {
    let schema = PgSchema::new("cached");
    let kh = open(&schema);
    let plain = kh.create(CreateOptions::default()).unwrap();
    let credits = kh.create(CreateOptions { remaining: Some(5), ..Default::default() }).unwrap();
    let fresh = Keyhouse::open(pg_url(), config(&schema)).unwrap();
    assert!(fresh.verify_cached(&plain.key, &[], 1).unwrap().is_none(), "not cached yet");
    assert!(fresh.verify(&plain.key, &[], 1).unwrap().is_valid());
    let cached = fresh.verify_cached(&plain.key, &[], 1).unwrap().expect("cached now");
    assert_eq!(cached.key.unwrap().usage_count, 2);
    assert!(fresh.verify(&credits.key, &[], 1).unwrap().is_valid());
    assert!(fresh.verify_cached(&credits.key, &[], 1).unwrap().is_none(), "a spend needs the server");
    assert_eq!(fresh.verify_cached("junk", &[], 1).unwrap().unwrap().outcome, Outcome::Malformed);
    kh.revoke(&plain.info.id).unwrap();
    until(&fresh, &plain.key, Outcome::Revoked, Duration::from_secs(2));
    assert_eq!(fresh.verify_cached(&plain.key, &[], 1).unwrap().unwrap().outcome, Outcome::Revoked);
}

#[test]
fn pooled_connections_the_server_closed_while_idle_are_replaced_on_a_read() {
    let schema = PgSchema::new("idle");
    let kh = open(&schema);
    let (a, b) = (kh.create(CreateOptions::default()).unwrap(), kh.create(CreateOptions::default()).unwrap());
    assert!(kh.verify(&a.key, &[], 1).unwrap().is_valid());
    // As a server restart or a failover would: every request connection goes.
    let killed = terminate("keyhouse", &schema);
    assert!(killed >= 1);
    std::thread::sleep(Duration::from_millis(100));
    // A miss reads through a pooled connection that is now dead.
    assert!(kh.verify(&b.key, &[], 1).unwrap().is_valid());
}

#[test]
fn a_closed_store_answers_nothing_from_its_cache() {
    let schema = PgSchema::new("closedstore");
    let kh = open(&schema);
    let c = kh.create(CreateOptions::default()).unwrap();
    assert!(kh.verify(&c.key, &[], 1).unwrap().is_valid());
    kh.close().unwrap();
    assert!(kh.verify_cached(&c.key, &[], 1).unwrap().is_none());
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap_err().code(), ErrorCode::Closed);
    assert_eq!(kh.create(CreateOptions::default()).unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn a_spend_after_a_revoke_by_hand_is_refused_at_once_whatever_the_cache_says() {
    let schema = PgSchema::new("versionbump");
    let admin = open(&schema);
    let c = admin.create(CreateOptions { remaining: Some(10), ..Default::default() }).unwrap();
    // No listener and a long bound: only the spend statement can notice.
    let a = Keyhouse::open(
        pg_url(),
        Config {
            listen_url: Some("postgres://nobody:x@127.0.0.1:1/none?sslmode=disable".into()),
            max_staleness: Duration::from_secs(30),
            connect_timeout: Duration::from_millis(300),
            ..config(&schema)
        },
    )
    .unwrap();
    assert!(a.verify(&c.key, &[], 1).unwrap().is_valid());
    let mut psql = PgSchema::client();
    psql.execute(&format!("UPDATE \"{}\".keys SET revoked_at = 1 WHERE id = $1", schema.0), &[&c.info.id]).unwrap();
    assert_eq!(a.verify(&c.key, &[], 1).unwrap().outcome, Outcome::Revoked);
    assert_eq!(admin.get(&c.info.id).unwrap().remaining, Some(9), "the refused spend took nothing");
}

#[test]
fn max_keys_per_owner_holds_across_stores_creating_at_once() {
    let schema = PgSchema::new("owners");
    let config = Config { max_keys_per_owner: Some(3), ..config(&schema) };
    let stores: Vec<Arc<Keyhouse>> =
        (0..2).map(|_| Arc::new(Keyhouse::open(pg_url(), config.clone()).unwrap())).collect();
    let made = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (kh, made) = (Arc::clone(&stores[t % 2]), Arc::clone(&made));
            std::thread::spawn(move || {
                for _ in 0..3 {
                    match kh.create(CreateOptions { owner_id: Some("team".into()), ..Default::default() }) {
                        Ok(_) => made.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            assert_eq!(e.code(), ErrorCode::KeyLimitExceeded, "{e}");
                            0
                        }
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(made.load(Ordering::Relaxed), 3);
}

#[test]
fn dropping_a_store_on_an_async_runtime_thread_does_not_panic() {
    let schema = PgSchema::new("dropasync");
    let kh = open(&schema);
    let c = kh.create(CreateOptions::default()).unwrap();
    assert!(kh.verify(&c.key, &[], 1).unwrap().is_valid());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let closed = rt.block_on(async { kh.close() });
    assert!(closed.is_err(), "close inside a runtime is refused, not a panic");
    rt.block_on(async move { drop(kh) });
}

#[test]
fn a_database_dropped_under_a_store_is_a_store_error_not_a_panic() {
    let name = PgSchema::new("dropdb").0.clone();
    let mut admin = PgSchema::client();
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
    let url = pg_url();
    let (base, query) = url.split_once('?').unwrap_or((&url, ""));
    let db_url = format!("{}/{name}?{query}", &base[..base.rfind('/').unwrap()]);
    let staleness = Duration::from_millis(300);
    let kh = Keyhouse::open(
        &db_url,
        Config { max_staleness: staleness, connect_timeout: Duration::from_secs(1), ..Config::default() },
    )
    .unwrap();
    let plain = kh.create(CreateOptions::default()).unwrap();
    let credits = kh.create(CreateOptions { remaining: Some(5), ..Default::default() }).unwrap();
    assert!(kh.verify(&plain.key, &[], 1).unwrap().is_valid());
    admin.batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).unwrap();
    assert!(kh.verify(&credits.key, &[], 1).is_err(), "a spend with the database gone");
    assert_eq!(kh.create(CreateOptions::default()).unwrap_err().code(), ErrorCode::StoreError);
    std::thread::sleep(staleness);
    let err = kh.verify(&plain.key, &[], 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreError, "{err}");
}
