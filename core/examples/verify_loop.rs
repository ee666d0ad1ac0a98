//! Verifies one valid key in a loop on a 1k-key file store: a steady target
//! for profilers (`perf record`), which Criterion's setup would drown out.
//! `N=iterations cargo run --release --example verify_loop`.

use keyhouse::{Config, CreateOptions, Keyhouse};
fn main() {
    let p = std::env::temp_dir().join("vloop.db");
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", p.display()));
    }
    let kh = Keyhouse::open(&p, Config::default()).unwrap();
    let made = kh.create_many(vec![CreateOptions::default(); 1000]).unwrap();
    let key = made[500].key.clone();
    let t = std::time::Instant::now();
    let n: u32 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000_000);
    for _ in 0..n {
        assert!(kh.verify(&key, &[], 1).unwrap().is_valid());
    }
    println!("{:.2} µs/verify", t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
}
