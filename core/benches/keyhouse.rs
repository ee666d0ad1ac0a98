//! Criterion benchmarks of the core: `cargo bench -p keyhouse` (or `make bench`).
//!
//! Each group measures against its own baseline in the same run: verify at
//! 1M keys against verify at 1k keys, a malformed key against a valid one,
//! batch creation against one-by-one creation.

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

/// A file store holding `n` keys, and one plaintext key that is in it.
fn store_with(n: usize) -> (Keyhouse, String) {
    let kh = Keyhouse::open(fresh_db(&format!("verify-{n}.db")), Config::default()).unwrap();
    let mut known = None;
    let mut left = n;
    while left > 0 {
        let chunk = left.min(10_000);
        let made = kh.create_many(vec![CreateOptions::default(); chunk]).unwrap();
        known.get_or_insert_with(|| made[made.len() / 2].key.clone());
        left -= chunk;
    }
    (kh, known.unwrap())
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
    for n in [1_000usize, 1_000_000] {
        let (kh, key) = store_with(n);
        let unknown = generate("kh").unwrap().key;
        let malformed = format!("{}x", &key[..key.len() - 1]);
        let huge = "k".repeat(10 * 1024 * 1024);
        g.bench_with_input(BenchmarkId::new("valid", n), &key, |b, k| b.iter(|| assert!(kh.verify(k, &[], 1).unwrap().is_valid())));
        g.bench_with_input(BenchmarkId::new("unknown_id", n), &unknown, |b, k| b.iter(|| kh.verify(k, &[], 1).unwrap()));
        g.bench_with_input(BenchmarkId::new("malformed", n), &malformed, |b, k| b.iter(|| kh.verify(k, &[], 1).unwrap()));
        if n == 1_000 {
            g.bench_with_input(BenchmarkId::new("malformed_10MB", n), &huge, |b, k| b.iter(|| kh.verify(k, &[], 1).unwrap()));
        }
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
        b.iter_batched(|| vec![CreateOptions::default(); BATCH], |batch| kh.create_many(batch).unwrap(), BatchSize::SmallInput)
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = stateless, verify, create
}
criterion_main!(benches);
