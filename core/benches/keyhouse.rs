//! Criterion benchmarks of the core: `cargo bench -p keyhouse` (or `make bench`).
//!
//! Each group measures against its own baseline in the same run: verify at
//! 100k and 1M keys against verify at 1k keys (one hot key, keys drawn
//! uniformly, and Zipf-like), an unknown id against a wrong secret, a
//! malformed key against a valid one, batch creation against one-by-one
//! creation.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use keyhouse::{generate, hash_key, parse, Config, CreateOptions, Keyhouse, Pepper};

fn bench_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fresh_db(name: &str) -> PathBuf {
    let path = bench_dir().join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// A file store holding `n` keys, and their plaintexts.
fn store_with(n: usize) -> (Keyhouse, Vec<String>) {
    let kh = Keyhouse::open(fresh_db(&format!("verify-{n}.db")), Config::default()).unwrap();
    let mut keys = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let chunk = left.min(100_000);
        keys.extend(kh.create_many(vec![CreateOptions::default(); chunk]).unwrap().into_iter().map(|c| c.key));
        left -= chunk;
    }
    (kh, keys)
}

/// Draws indices into `n` keys, fresh on every call (a precomputed list
/// would cycle through too few keys to leave the cache): uniform, or
/// Zipf-like (rank r with probability ~ 1/r, drawn log-uniformly).
struct Draws {
    x: u64,
    n: usize,
    zipf: bool,
}

impl Draws {
    fn new(n: usize, zipf: bool) -> Self {
        Draws { x: 0x9E37_79B9_7F4A_7C15, n, zipf }
    }

    fn next(&mut self) -> usize {
        // xorshift64: a few nanoseconds, the same sequence in every run.
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        let u = (self.x >> 11) as f64 / (1u64 << 53) as f64;
        if self.zipf {
            (((self.n as f64 + 1.0).ln() * u).exp() as usize).saturating_sub(1).min(self.n - 1)
        } else {
            (u * self.n as f64) as usize
        }
    }
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn stateless(c: &mut Criterion) {
    let key = generate("acme_live").unwrap().key;
    let pepper = Pepper::new("p1", &[7; 32]).unwrap();
    let mut g = c.benchmark_group("stateless");
    g.bench_function("generate", |b| b.iter(|| generate("acme_live").unwrap()));
    g.bench_function("parse", |b| b.iter(|| parse(&key).unwrap()));
    g.bench_function("hash_key/sha256", |b| b.iter(|| hash_key(&key, None).unwrap()));
    g.bench_function("hash_key/hmac_sha256", |b| b.iter(|| hash_key(&key, Some(&pepper)).unwrap()));
    g.finish();
}

fn verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("verify");
    for n in [1_000usize, 100_000, 1_000_000] {
        let (kh, keys) = store_with(n);
        let key = keys[n / 2].clone();
        let unknown = generate("kh").unwrap().key;
        let malformed = format!("{}x", &key[..key.len() - 1]);
        let huge = "k".repeat(10 * 1024 * 1024);
        g.bench_with_input(BenchmarkId::new("valid", n), &key, |b, k| {
            b.iter(|| assert!(kh.verify(k, &[], 1).unwrap().is_valid()))
        });
        for (name, zipf) in [("uniform", false), ("zipf", true)] {
            let mut draws = Draws::new(n, zipf);
            g.bench_function(BenchmarkId::new(name, n), |b| b.iter(|| kh.verify(&keys[draws.next()], &[], 1).unwrap()));
        }
        g.bench_with_input(BenchmarkId::new("unknown_id", n), &unknown, |b, k| {
            b.iter(|| kh.verify(k, &[], 1).unwrap())
        });
        let wrong_secret = common::forge_same_id(&key);
        g.bench_with_input(BenchmarkId::new("wrong_secret", n), &wrong_secret, |b, k| {
            b.iter(|| kh.verify(k, &[], 1).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("malformed", n), &malformed, |b, k| {
            b.iter(|| kh.verify(k, &[], 1).unwrap())
        });
        if n == 1_000 {
            g.bench_with_input(BenchmarkId::new("malformed_10MB", n), &huge, |b, k| {
                b.iter(|| kh.verify(k, &[], 1).unwrap())
            });
        }
        eprintln!("verify/{n}: RSS {:.0} MiB after the runs (plaintexts held by the benchmark included)", rss_mib());
        kh.close().unwrap();
    }
    g.finish();
}

fn create(c: &mut Criterion) {
    let mut g = c.benchmark_group("create");
    let kh = Keyhouse::open(fresh_db("create.db"), Config::default()).unwrap();
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_by_one", |b| b.iter(|| kh.create(CreateOptions::default()).unwrap()));
    const BATCH: usize = 10_000;
    g.sample_size(10);
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("batch_10000", |b| {
        b.iter_batched(
            || vec![CreateOptions::default(); BATCH],
            |batch| kh.create_many(batch).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = stateless, verify, create
}
criterion_main!(benches);
