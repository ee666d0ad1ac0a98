//! Credits and rate limits hold exactly when several OS processes share one store file.
//!
//! The parent spawns copies of this test binary running `consumer`, which
//! verifies one key as fast as it can and prints how many verifications were
//! VALID.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use keyhouse::{Config, CreateOptions, Keyhouse, Outcome, RateLimit};

use common::TempDir;

const PROCESSES: usize = 2;

/// Runs in the children only; a no-op unless the parent set its variables.
#[test]
#[ignore = "run by the other tests in a child process"]
fn consumer() {
    let (Ok(db), Ok(key), Ok(attempts)) = (
        std::env::var("KEYHOUSE_TEST_DB"),
        std::env::var("KEYHOUSE_TEST_KEY"),
        std::env::var("KEYHOUSE_TEST_ATTEMPTS"),
    ) else {
        return;
    };
    let kh = Keyhouse::open(&db, Config::default()).unwrap();
    // Start together, so the processes really contend.
    let start_at: u128 = std::env::var("KEYHOUSE_TEST_START_AT").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    std::thread::sleep(Duration::from_millis(start_at.saturating_sub(now) as u64));
    let mut valid = 0;
    for _ in 0..attempts.parse::<u32>().unwrap() {
        match kh.verify(&key, &[], 1).unwrap().outcome {
            Outcome::Valid => valid += 1,
            Outcome::UsageExceeded | Outcome::RateLimited => {}
            other => panic!("unexpected {other}"),
        }
    }
    println!("VALID_COUNT={valid}");
}

/// Starts the children at once and sums their VALID counts.
fn consume_in_processes(db: &std::path::Path, key: &str, attempts: u32) -> u64 {
    let start_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 1500;
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["consumer", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
                .env("KEYHOUSE_TEST_DB", db)
                .env("KEYHOUSE_TEST_KEY", key)
                .env("KEYHOUSE_TEST_ATTEMPTS", attempts.to_string())
                .env("KEYHOUSE_TEST_START_AT", start_at.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "child failed: {out:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            let count = text
                .split("VALID_COUNT=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("child printed no count: {text}"));
            let count: u64 = count.trim().parse().unwrap();
            assert!(count > 0, "each child should win some verifications, or the test proves nothing");
            count
        })
        .sum()
}

#[test]
fn two_processes_consume_one_quota_exactly() {
    let dir = TempDir::new("procs-quota");
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    let credits = 2000;
    let c = kh.create(CreateOptions { remaining: Some(credits), ..Default::default() }).unwrap();
    let valid = consume_in_processes(&dir.db(), &c.key, 1500);
    assert_eq!(valid, credits as u64);
    assert_eq!(kh.get(&c.info.id).unwrap().remaining, Some(0));
    assert_eq!(kh.get(&c.info.id).unwrap().usage_count, credits as u64);
}

#[test]
fn two_processes_share_one_rate_limit_exactly() {
    let dir = TempDir::new("procs-rate");
    let kh = Keyhouse::open(dir.db(), Config::default()).unwrap();
    // An hour-long window: no slot frees up while the test runs.
    let rl = RateLimit { limit: 1500, window: Duration::from_secs(3600) };
    let c = kh.create(CreateOptions { rate_limit: Some(rl), ..Default::default() }).unwrap();
    assert_eq!(consume_in_processes(&dir.db(), &c.key, 1000), 1500);
    assert_eq!(kh.verify(&c.key, &[], 1).unwrap().outcome, Outcome::RateLimited);
}
