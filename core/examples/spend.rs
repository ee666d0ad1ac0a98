//! A consuming verify (a key with credits) in a loop, beside a hand-written
//! rusqlite floor doing the least exact spend: BEGIN IMMEDIATE, SELECT the
//! hash by id, compare, a conditional UPDATE of `remaining`, COMMIT.
//! Then leased mode (`lease_size` 100) beside a plain verify (a key with no
//! limits), the cost a leased consuming verify should stay close to.
//! `N=iterations cargo run --release --example spend`.

use keyhouse::{Config, CreateOptions, Keyhouse};
use rusqlite::{params, Connection, TransactionBehavior};
use sha2::{Digest, Sha256};

fn main() {
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("keyhouse-spend-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kh = Keyhouse::open(dir.join("k.db"), Config::default()).unwrap();
    let mut keys: Vec<String> =
        kh.create_many(vec![CreateOptions::default(); 10_000]).unwrap().into_iter().map(|c| c.key).collect();
    let spent = kh.create(CreateOptions { remaining: Some(i64::MAX / 2), ..Default::default() }).unwrap();
    keys.push(spent.key.clone());

    let mut db = Connection::open(dir.join("floor.db")).unwrap();
    db.pragma_update(None, "journal_mode", "WAL").unwrap();
    db.pragma_update(None, "synchronous", "NORMAL").unwrap();
    db.execute_batch("CREATE TABLE keys (id TEXT PRIMARY KEY, hash BLOB NOT NULL, remaining INTEGER)").unwrap();
    {
        let tx = db.transaction().unwrap();
        for k in &keys {
            let id = k.rsplit('_').nth(1).unwrap();
            tx.execute("INSERT INTO keys VALUES (?1, ?2, ?3)", params![id, Sha256::digest(k).to_vec(), i64::MAX / 2])
                .unwrap();
        }
        tx.commit().unwrap();
    }
    let floor = |db: &mut Connection, key: &str| {
        let id = key.rsplit('_').nth(1).unwrap();
        let digest = Sha256::digest(key);
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        let hash: Vec<u8> =
            tx.prepare_cached("SELECT hash FROM keys WHERE id = ?1").unwrap().query_row([id], |r| r.get(0)).unwrap();
        assert!(bool::from(subtle::ConstantTimeEq::ct_eq(&hash[..], &digest[..])));
        let n = tx
            .prepare_cached("UPDATE keys SET remaining = remaining - 1 WHERE id = ?1 AND remaining >= 1")
            .unwrap()
            .execute([id])
            .unwrap();
        assert_eq!(n, 1);
        tx.commit().unwrap();
    };
    for round in 0..3 {
        let t = std::time::Instant::now();
        for _ in 0..n {
            floor(&mut db, &spent.key);
        }
        let f = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert!(kh.verify(&spent.key, &[], 1).unwrap().is_valid());
        }
        let k = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("round {round}: floor {f:.2} µs, keyhouse {k:.2} µs, keyhouse/floor {:.2}x", k / f);
    }
    let leased = Keyhouse::open(dir.join("k.db"), Config { lease_size: Some(100), ..Config::default() }).unwrap();
    let rl = keyhouse::RateLimit { limit: 1_000_000, window: std::time::Duration::from_secs(1) };
    let both = leased
        .create(CreateOptions { remaining: Some(i64::MAX / 2), rate_limit: Some(rl), ..Default::default() })
        .unwrap();
    let time = |key: &str| {
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert!(leased.verify(key, &[], 1).unwrap().is_valid());
        }
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    for round in 0..3 {
        let (p, c, b) = (time(&keys[0]), time(&spent.key), time(&both.key));
        println!(
            "round {round}: plain {p:.2} µs; leased: credits {c:.2} µs ({:.2}x plain), credits and rate limit {b:.2} µs ({:.2}x plain)",
            c / p,
            b / p
        );
    }
    drop(leased);
    drop(kh);
    std::fs::remove_dir_all(&dir).unwrap();
}
