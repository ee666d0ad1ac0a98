//! Verifies keys drawn uniformly from an N-key file store: a steady target
//! for profilers on the cache-miss path (`perf record`).
//! `KEYS=1000000 N=iterations cargo run --release --example verify_uniform`.

use keyhouse::{Config, CreateOptions, Keyhouse};

fn main() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (keys, n) = (env("KEYS", 1_000_000), env("N", 1_000_000));
    let p = std::env::temp_dir().join(format!("vuniform-{keys}.db"));
    let fresh = !p.exists();
    let kh = Keyhouse::open(&p, Config::default()).unwrap();
    let list = std::env::temp_dir().join(format!("vuniform-{keys}.keys"));
    if fresh || !list.exists() {
        let mut all = Vec::with_capacity(keys);
        while all.len() < keys {
            let batch = (keys - all.len()).min(100_000);
            all.extend(kh.create_many(vec![CreateOptions::default(); batch]).unwrap().into_iter().map(|c| c.key));
        }
        std::fs::write(&list, all.join("\n")).unwrap();
    }
    let text = std::fs::read_to_string(&list).unwrap();
    let all: Vec<&str> = text.lines().collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let t = std::time::Instant::now();
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        assert!(kh.verify(all[(x % all.len() as u64) as usize], &[], 1).unwrap().is_valid());
    }
    println!("{:.2} µs/verify over {} keys", t.elapsed().as_secs_f64() * 1e6 / n as f64, all.len());
    // The usage those verifies left pending, written in one transaction.
    let wal = || std::fs::metadata(p.with_extension("db-wal")).map_or(0, |m| m.len());
    let (t, before) = (std::time::Instant::now(), wal());
    kh.flush().unwrap();
    println!("flush: {:.1} ms, WAL grew {} KiB", t.elapsed().as_secs_f64() * 1e3, wal().saturating_sub(before) / 1024);
}
