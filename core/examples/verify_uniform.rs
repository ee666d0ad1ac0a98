//! Verifies keys drawn uniformly from an N-key file store: a steady target
//! for profilers on the cache-miss path (`perf record`).
//! `KEYS=1000000 N=iterations cargo run --release --example verify_uniform`;
//! with `WARM=1`, every key is verified once before the timed loop;
//! `CACHE=rows` sets `verify_cache_size`, `FLUSH_MS` the usage flush
//! interval; `HOT=1` copies the drawn keys in order before timing (see
//! below); `LAPS=1` prints the time per 200,000 verifies; with
//! `PEPPER=1`, keys are hashed with a pepper (HMAC-SHA256), as the README
//! recommends, in a store file of their own; with `FULL=1`, each key has an
//! owner, a name, two permissions and a little metadata, as a service's
//! keys do (the plain keys have none, and a verify then copies no text out
//! of the row), also in a file of their own; with
//! `SPENDER=1`, a second store on the same file spends credits of one key
//! in a loop meanwhile, so that a commit lands every few tens of
//! microseconds, as when other processes spend while this one verifies, and
//! goes on through the final flush of usage (the slowest spend shows how
//! long the flush kept it waiting).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use keyhouse::{Config, CreateOptions, Keyhouse, Pepper};

/// The `i`th key's options: none, or with `full` what a service's key has.
fn options(full: bool, i: usize) -> CreateOptions {
    if !full {
        return CreateOptions::default();
    }
    let metadata = serde_json::json!({ "plan": "pro", "region": "eu-west-1" });
    CreateOptions {
        owner_id: Some(format!("org_{:08}", i / 3)),
        name: Some(format!("production server {i}")),
        permissions: Some(vec!["files:read".into(), "files:write".into()]),
        metadata: metadata.as_object().cloned(),
        ..Default::default()
    }
}

fn main() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (keys, n) = (env("KEYS", 1_000_000), env("N", 1_000_000));
    let (peppered, full) = (env("PEPPER", 0) == 1, env("FULL", 0) == 1);
    let name = format!("vuniform{}{}-{keys}", if peppered { "-pepper" } else { "" }, if full { "-full" } else { "" });
    let p = std::env::temp_dir().join(format!("{name}.db"));
    let fresh = !p.exists();
    let mut config = Config { verify_cache_size: env("CACHE", 100_000) as u32, ..Config::default() };
    if peppered {
        config.pepper = Some(Pepper::new("bench", &[7; 32]).unwrap());
    }
    if let Some(ms) = std::env::var("FLUSH_MS").ok().and_then(|v| v.parse().ok()) {
        config.usage_flush_interval = std::time::Duration::from_millis(ms);
    }
    let pepper = config.pepper.clone();
    let kh = Keyhouse::open(&p, config).unwrap();
    let list = std::env::temp_dir().join(format!("{name}.keys"));
    if fresh || !list.exists() {
        let mut all = Vec::with_capacity(keys);
        while all.len() < keys {
            let batch = (keys - all.len()).min(100_000);
            let options = (all.len()..all.len() + batch).map(|i| options(full, i)).collect();
            all.extend(kh.create_many(options).unwrap().into_iter().map(|c| c.key));
        }
        std::fs::write(&list, all.join("\n")).unwrap();
    }
    let text = std::fs::read_to_string(&list).unwrap();
    let all: Vec<&str> = text.lines().collect();
    if env("WARM", 0) == 1 {
        // Every key once, so that the timed loop measures the steady state.
        let t = std::time::Instant::now();
        for key in &all {
            assert!(kh.verify(key, &[], 1).unwrap().is_valid());
        }
        println!("warm-up: {:.2} µs/verify", t.elapsed().as_secs_f64() * 1e6 / all.len() as f64);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let spender = (env("SPENDER", 0) == 1).then(|| {
        let (p, stop) = (p.clone(), stop.clone());
        std::thread::spawn(move || {
            let other = Keyhouse::open(&p, Config { pepper, ..Config::default() }).unwrap();
            let paid = other.create(CreateOptions { remaining: Some(i64::MAX / 2), ..Default::default() }).unwrap();
            let (mut spends, mut slowest) = (0u64, std::time::Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                let t = std::time::Instant::now();
                assert!(other.verify(&paid.key, &[], 1).unwrap().is_valid());
                slowest = slowest.max(t.elapsed());
                spends += 1;
            }
            (spends, slowest)
        })
    });
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut draw = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        all[(x % all.len() as u64) as usize]
    };
    // With HOT=1, the drawn keys are copied in draw order before the timed
    // loop, so each verify reads its key from memory next to the last one,
    // as a server reads it from the request it just received. Otherwise
    // each draw also reads a random place in the key list, which at a
    // million keys is a cache miss the verify itself does not cause.
    let hot: Option<(String, Vec<usize>)> = (env("HOT", 0) == 1).then(|| {
        let (mut text, mut ends) = (String::new(), Vec::with_capacity(n));
        for _ in 0..n {
            text.push_str(draw());
            ends.push(text.len());
        }
        (text, ends)
    });
    let laps = env("LAPS", 0) == 1;
    let t = std::time::Instant::now();
    let mut lap = (t, 0);
    for i in 0..n {
        if laps && i > 0 && i % 200_000 == 0 {
            let now = std::time::Instant::now();
            println!("  {i}: {:.2} µs/verify", (now - lap.0).as_secs_f64() * 1e6 / (i - lap.1) as f64);
            lap = (now, i);
        }
        let key = match &hot {
            Some((text, ends)) => &text[if i == 0 { 0 } else { ends[i - 1] }..ends[i]],
            None => draw(),
        };
        assert!(kh.verify(key, &[], 1).unwrap().is_valid());
    }
    let elapsed = t.elapsed();
    println!("{:.2} µs/verify over {} keys", elapsed.as_secs_f64() * 1e6 / n as f64, all.len());
    // The usage those verifies left pending, written in transactions of
    // at most 5,000 keys each (the spender, if any, still spending).
    let wal = || std::fs::metadata(p.with_extension("db-wal")).map_or(0, |m| m.len());
    let (f, before) = (std::time::Instant::now(), wal());
    kh.flush().unwrap();
    println!("flush: {:.1} ms, WAL grew {} KiB", f.elapsed().as_secs_f64() * 1e3, wal().saturating_sub(before) / 1024);
    stop.store(true, Ordering::Relaxed);
    if let Some(spender) = spender {
        let (spends, slowest) = spender.join().unwrap();
        let ran = t.elapsed().as_secs_f64();
        println!(
            "meanwhile {spends} spends committed ({:.0}/s); the slowest took {:.1} ms",
            spends as f64 / ran,
            slowest.as_secs_f64() * 1e3
        );
    }
}
