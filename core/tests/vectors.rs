//! Runs the cross-language conformance vectors in `tests/vectors/` through the core.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keyhouse::seam::{FixedBytes, ManualClock, OsRandom, Seams};
use keyhouse::{
    format, hash_key, parse, Config, CreateOptions, Error, KeyInfo, Keyhouse, MalformedReason, Outcome, Pepper,
    RateLimit, Refill, Timestamp, UpdateOptions, VerifyResult,
};
use serde_json::{json, Map, Value};

use common::{pg_url, read_vectors, PgSchema, TempDir};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn format_vectors() {
    let doc = read_vectors("format.json");
    assert_eq!(doc["key_regex"], keyhouse::KEY_REGEX);
    let pepper =
        Pepper::new(doc["pepper"]["id"].as_str().unwrap(), &unhex(doc["pepper"]["secret"].as_str().unwrap())).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 5);
    for v in vectors {
        let bytes = [unhex(v["id_bytes"].as_str().unwrap()), unhex(v["secret_bytes"].as_str().unwrap())].concat();
        let secret_len = bytes.len() - format::ID_BYTES;
        let prefix = v["prefix"].as_str().unwrap();
        let g = format::generate_with_random(prefix, secret_len, None, &*FixedBytes::new(&bytes)).unwrap();
        assert_eq!(g.key, v["key"], "{prefix}");
        assert_eq!(g.id, v["id"]);
        assert_eq!(g.hash, v["hash"]);
        let peppered =
            format::generate_with_random(prefix, secret_len, Some(&pepper), &*FixedBytes::new(&bytes)).unwrap();
        assert_eq!(peppered.hash, v["hash_with_pepper"]);
        assert_eq!(hash_key(&g.key, None).unwrap(), v["hash"]);
        assert_eq!(hash_key(&g.key, Some(&pepper)).unwrap(), v["hash_with_pepper"]);
        let parsed = parse(&g.key).unwrap();
        assert_eq!((parsed.prefix.as_str(), parsed.id.as_str()), (prefix, v["id"].as_str().unwrap()));
    }
}

#[test]
fn outcome_vectors() {
    let doc = read_vectors("outcomes.json");
    let vectors = doc["outcomes"].as_array().unwrap();
    assert_eq!(vectors.len(), Outcome::ALL.len(), "every outcome has its vector");
    for v in vectors {
        let outcome = Outcome::from_code(v["outcome"].as_str().unwrap()).unwrap();
        assert_eq!(u64::from(outcome.http_status()), v["http_status"].as_u64().unwrap(), "{outcome}");
    }
}

#[test]
fn parse_vectors() {
    let doc = read_vectors("parse.json");
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 40);
    for v in vectors {
        let input = v["input"].as_str().unwrap();
        let name = v["name"].as_str().unwrap();
        match (parse(input), v["expect"].as_str().unwrap()) {
            (Ok(p), "VALID") => {
                assert_eq!(p.prefix, v["prefix"], "{name}");
                assert_eq!(p.id, v["id"], "{name}");
            }
            (Err(Error::Malformed(reason)), code) => {
                assert_eq!(reason.code(), code, "{name}");
                assert!(MalformedReason::from_code(code).is_some());
            }
            (got, code) => panic!("{name}: expected {code}, got {got:?}"),
        }
    }
}

#[test]
fn scenario_vectors_in_memory() {
    run_scenarios(None);
}

#[test]
fn scenario_vectors_on_a_file() {
    let dir = TempDir::new("vectors");
    run_scenarios(Some(dir.path()));
}

/// Leased mode answers one process exactly as exact mode does: the same
/// vectors pass with every store leasing.
#[test]
fn scenario_vectors_in_leased_mode() {
    let dir = TempDir::new("vectors-leased");
    let doc = read_vectors("scenarios.json");
    let start = doc["start"].as_i64().unwrap();
    for (i, s) in doc["scenarios"].as_array().unwrap().iter().enumerate() {
        let config = Config { lease_size: Some(8), ..config(&s["config"]) };
        Runner::new(s, start, &dir.path().join(format!("scenario-{i}.db")), config).run(s);
    }
}

#[test]
fn scenario_vectors_on_postgres() {
    let doc = read_vectors("scenarios.json");
    let start = doc["start"].as_i64().unwrap();
    let url = pg_url();
    for s in doc["scenarios"].as_array().unwrap() {
        let schema = PgSchema::new("vectors");
        let config = Config { schema: schema.0.clone(), ..config(&s["config"]) };
        Runner::new(s, start, Path::new(&url), config).run(s);
    }
}

fn run_scenarios(dir: Option<&Path>) {
    let doc = read_vectors("scenarios.json");
    let start = doc["start"].as_i64().unwrap();
    for (i, s) in doc["scenarios"].as_array().unwrap().iter().enumerate() {
        let path = dir.map_or_else(|| ":memory:".into(), |d| d.join(format!("scenario-{i}.db")));
        Runner::new(s, start, &path, config(&s["config"])).run(s);
    }
}

struct Runner {
    name: String,
    start: i64,
    clock: Arc<ManualClock>,
    kh: Keyhouse,
    keys: HashMap<String, (String, String)>,
}

impl Runner {
    fn new(s: &Value, start: i64, path: &Path, config: Config) -> Self {
        let clock = ManualClock::new(Timestamp::from_millis(start));
        let seams = Seams { clock: clock.clone(), random: Arc::new(OsRandom) };
        let kh = Keyhouse::open_with_seams(path, config, seams).unwrap();
        Runner { name: s["name"].as_str().unwrap().to_owned(), start, clock, kh, keys: HashMap::new() }
    }

    fn run(mut self, s: &Value) {
        for (n, step) in s["steps"].as_array().unwrap().iter().enumerate() {
            let ctx = format!("scenario {:?} step {n} ({})", self.name, step["op"]);
            self.clock.set(Timestamp::from_millis(self.start + step["at"].as_i64().unwrap()));
            let got = self.step(step);
            let expect = step.get("expect").cloned().unwrap_or(json!({}));
            let got = match got {
                Ok(v) => v,
                Err(e) => {
                    assert_eq!(expect.get("error").and_then(Value::as_str), Some(e.code().as_str()), "{ctx}: {e}");
                    continue;
                }
            };
            assert!(expect.get("error").is_none(), "{ctx}: expected {}, got {got}", expect["error"]);
            for (field, want) in expect.as_object().unwrap() {
                assert_eq!(got.get(field).unwrap_or(&Value::Null), want, "{ctx}: field {field} of {got}");
            }
        }
    }

    fn step(&mut self, step: &Value) -> Result<Value, Error> {
        let key_ref = step["key"].as_str().unwrap_or("");
        match step["op"].as_str().unwrap() {
            "create" => {
                let created = self.kh.create(self.create_options(&step["options"]))?;
                if let Some(name) = step["save_as"].as_str() {
                    self.keys.insert(name.to_owned(), (created.key.clone(), created.info.id.clone()));
                }
                Ok(self.info(&created.info))
            }
            "verify" => {
                let perms: Vec<&str> =
                    step["permissions"].as_array().map_or(vec![], |a| a.iter().map(|p| p.as_str().unwrap()).collect());
                let cost = step["cost"].as_u64().unwrap_or(1) as u32;
                let key = self.key_text(key_ref);
                Ok(self.verify_json(&self.kh.verify(&key, &perms, cost)?))
            }
            "get" => Ok(self.info(&self.kh.get(&self.id(key_ref))?)),
            "update" => Ok(self.info(&self.kh.update(&self.id(key_ref), self.update_options(&step["options"]))?)),
            "revoke" => Ok(self.info(&self.kh.revoke(&self.id(key_ref))?)),
            "delete" => self.kh.delete(&self.id(key_ref)).map(|()| json!({})),
            "roll" => {
                let grace = Duration::from_millis(step["grace_ms"].as_u64().unwrap());
                let created = self.kh.roll(&self.id(key_ref), grace)?;
                if let Some(name) = step["save_as"].as_str() {
                    self.keys.insert(name.to_owned(), (created.key.clone(), created.info.id.clone()));
                }
                Ok(self.info(&created.info))
            }
            "purge_expired" => Ok(json!({"purged": self.kh.purge_expired()?})),
            op => panic!("unknown op {op}"),
        }
    }

    fn key_text(&self, r: &str) -> String {
        r.strip_prefix("literal:").map_or_else(|| self.keys[r].0.clone(), str::to_owned)
    }

    fn id(&self, r: &str) -> String {
        r.strip_prefix("literal:").map_or_else(|| self.keys[r].1.clone(), str::to_owned)
    }

    fn at(&self, v: &Value) -> Option<Timestamp> {
        v.as_i64().map(|ms| Timestamp::from_millis(self.start + ms))
    }

    fn offset(&self, t: Option<Timestamp>) -> Value {
        t.map_or(Value::Null, |t| json!(t.as_millis() - self.start))
    }

    fn info(&self, i: &KeyInfo) -> Value {
        json!({
            "id": i.id, "prefix": i.prefix, "owner_id": i.owner_id, "name": i.name,
            "permissions": i.permissions, "metadata": i.metadata, "enabled": i.enabled,
            "created_at": self.offset(Some(i.created_at)), "expires_at": self.offset(i.expires_at),
            "revoked_at": self.offset(i.revoked_at), "last_refill_at": self.offset(i.last_refill_at),
            "remaining": i.remaining, "usage_count": i.usage_count,
        })
    }

    fn verify_json(&self, r: &VerifyResult) -> Value {
        json!({
            "outcome": r.outcome.as_str(),
            "malformed_reason": r.malformed_reason.map(|m| m.code()),
            "retry_after_ms": r.retry_after.map(|d| d.as_millis() as u64),
            "rate_limit_remaining": r.rate_limit.map(|s| s.remaining),
            "remaining": r.key.as_ref().and_then(|k| k.remaining),
        })
    }

    fn create_options(&self, o: &Value) -> CreateOptions {
        CreateOptions {
            owner_id: o["owner_id"].as_str().map(str::to_owned),
            name: o["name"].as_str().map(str::to_owned),
            prefix: o["prefix"].as_str().map(str::to_owned),
            expires_in: o["expires_in_ms"].as_u64().map(Duration::from_millis),
            expires_at: self.at(&o["expires_at"]),
            permissions: strings(&o["permissions"]),
            metadata: o["metadata"].as_object().cloned(),
            remaining: o["remaining"].as_i64(),
            refill: refill(&o["refill"]),
            rate_limit: rate_limit(&o["rate_limit"]),
        }
    }

    fn update_options(&self, o: &Value) -> UpdateOptions {
        let o = o.as_object().unwrap();
        // A present key with null clears the field; an absent key leaves it.
        let field = |k: &str| o.get(k);
        UpdateOptions {
            name: field("name").map(|v| v.as_str().map(str::to_owned)),
            enabled: field("enabled").and_then(Value::as_bool),
            permissions: field("permissions").and_then(strings),
            metadata: field("metadata").and_then(|v| v.as_object().cloned()),
            expires_at: field("expires_at").map(|v| self.at(v)),
            remaining: field("remaining").map(Value::as_i64),
            refill: field("refill").map(refill),
            rate_limit: field("rate_limit").map(rate_limit),
        }
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| a.iter().map(|p| p.as_str().unwrap().to_owned()).collect())
}

fn refill(v: &Value) -> Option<Refill> {
    Some(Refill { amount: v.get("amount")?.as_i64()?, interval: Duration::from_millis(v["interval_ms"].as_u64()?) })
}

fn rate_limit(v: &Value) -> Option<RateLimit> {
    Some(RateLimit { limit: v.get("limit")?.as_u64()? as u32, window: Duration::from_millis(v["window_ms"].as_u64()?) })
}

fn config(c: &Value) -> Config {
    let ms = |k: &str| c.get(k).and_then(Value::as_u64).map(Duration::from_millis);
    let c_obj = c.as_object().cloned().unwrap_or_else(Map::new);
    Config {
        max_keys_per_owner: c_obj.get("max_keys_per_owner").and_then(Value::as_u64).map(|n| n as u32),
        default_permissions: c_obj.get("default_permissions").and_then(strings).unwrap_or_default(),
        default_expiry: ms("default_expiry_ms"),
        min_expiry: ms("min_expiry_ms"),
        max_expiry: ms("max_expiry_ms"),
        ..Config::default()
    }
}
