//! Imports one million keys into a fresh file store through `create_many`
//! and prints the throughput: `cargo run --release --example bulk_import -- [BATCH]`.
//!
//! A one-shot measurement that Criterion's repeated sampling cannot make:
//! the store grows from empty to 1M keys as it runs.

use std::time::Instant;

use keyhouse::{Config, CreateOptions, Keyhouse};

fn main() {
    let batch: usize = std::env::args().nth(1).map_or(100_000, |s| s.parse().expect("BATCH must be a number"));
    let total = 1_000_000;
    let path = std::env::temp_dir().join(format!("keyhouse-bulk-import-{}.db", std::process::id()));
    let kh = Keyhouse::open(&path, Config::default()).expect("open the store");
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        let n = batch.min(total - done);
        let t = Instant::now();
        kh.create_many(vec![CreateOptions::default(); n]).expect("create a batch");
        done += n;
        if done % 100_000 < n {
            println!("{done:>8} keys: last batch {:.0} keys/s", n as f64 / t.elapsed().as_secs_f64());
        }
    }
    println!("imported {total} keys in batches of {batch}: {:.0} keys/s", total as f64 / start.elapsed().as_secs_f64());
    drop(kh);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
