//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "keyhouse-{label}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn db(&self) -> PathBuf {
        self.0.join("keyhouse.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The repository's `tests/vectors` directory.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// Reads one vector file.
pub fn read_vectors(name: &str) -> serde_json::Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The same key with a different secret and a correct checksum: same id, wrong secret.
pub fn forge_same_id(key: &str) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body = &key[..key.len() - 6];
    let last_sep = body.rfind('_').unwrap();
    let mut forged: Vec<u8> = body.as_bytes().to_vec();
    let i = last_sep + 5;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let mut crc = u64::from(crc32fast::hash(&forged));
    let mut checksum = [b'0'; 6];
    for c in checksum.iter_mut().rev() {
        *c = A[(crc % 62) as usize];
        crc /= 62;
    }
    forged.extend_from_slice(&checksum);
    String::from_utf8(forged).unwrap()
}

/// The PostgreSQL server the tests run against: `KEYHOUSE_TEST_PG`. A test
/// that needs it fails, loudly, when it is not set: `make test` sets it and
/// starts the server (tests/postgres/start.sh).
pub fn pg_url() -> String {
    match std::env::var("KEYHOUSE_TEST_PG") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "KEYHOUSE_TEST_PG is not set: the PostgreSQL tests need a server \
             (make test starts one; or export KEYHOUSE_TEST_PG=postgres://USER:PASSWORD@HOST/DB)"
        ),
    }
}

/// A PostgreSQL schema of its own for one test, dropped on drop, so that
/// tests (and runs) never see each other's keys.
pub struct PgSchema(pub String);

impl PgSchema {
    pub fn new(label: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        PgSchema(format!("t_{label}_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
    }

    /// A client for checking or changing the database behind Keyhouse's back, as psql would.
    pub fn client() -> postgres::Client {
        let url = pg_url();
        postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the server in KEYHOUSE_TEST_PG: {e}"))
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let Ok(url) = std::env::var("KEYHOUSE_TEST_PG") else { return };
        if let Ok(mut c) = postgres::Client::connect(&url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0));
        }
    }
}
