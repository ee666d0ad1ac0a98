use serde_json::Value;

use super::*;
use crate::{Config, CreateOptions, Keyhouse};

fn store() -> Keyhouse {
    let config = Config { max_keys_per_owner: Some(3), default_permissions: vec!["*".into()], ..Config::default() };
    Keyhouse::open_in_memory(config).unwrap()
}

/// A store and an API over it with this policy.
fn setup(policy: &str) -> (Keyhouse, KeyApi) {
    let kh = store();
    let api = KeyApi::new(Policy::from_json(policy).unwrap(), &kh).unwrap();
    (kh, api)
}

fn call(api: &KeyApi, kh: &Keyhouse, owner: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let req = Request {
        owner: Some(owner),
        method,
        path,
        query: "",
        content_type: Some("application/json"),
        body: body.as_bytes(),
    };
    let res = api.handle(kh, &req);
    let json = if res.body.is_empty() { Value::Null } else { serde_json::from_str(&res.body).unwrap() };
    (res.status, json)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap()
}

const POLICY: &str = r#"{"permissions": ["read", "write"], "defaultPermissions": ["read"], "maxExpiresIn": 3600}"#;

#[test]
fn owner_defaults_never_take_the_store_defaults() {
    let (kh, api) = setup(POLICY);
    let (status, created) = call(&api, &kh, "alice", "POST", "/keys", "{}");
    assert_eq!(status, 201);
    // The store's default is `*`; an owner gets the policy's default.
    assert_eq!(created["permissions"], serde_json::json!(["read"]));
    let info = kh.get(created["id"].as_str().unwrap()).unwrap();
    assert_eq!(info.owner_id.as_deref(), Some("alice"));
    let lifetime = info.expires_at.unwrap().as_millis() - info.created_at.as_millis();
    assert_eq!(lifetime, 3_600_000);
}

#[test]
fn another_owners_key_is_not_found_everywhere() {
    let (kh, api) = setup(r#"{"permissions": ["read"], "allowDelete": true}"#);
    let (_, created) = call(&api, &kh, "alice", "POST", "/keys", "{}");
    let id = created["id"].as_str().unwrap();
    let (_, unknown) = call(&api, &kh, "bob", "GET", "/keys/AAAAAAAAAAAAAA", "");
    for (method, path, body) in [
        ("GET", format!("/keys/{id}"), ""),
        ("PATCH", format!("/keys/{id}"), r#"{"name": "mine"}"#),
        ("POST", format!("/keys/{id}/revoke"), "{}"),
        ("POST", format!("/keys/{id}/roll"), "{}"),
        ("DELETE", format!("/keys/{id}"), ""),
    ] {
        let (status, body) = call(&api, &kh, "bob", method, &path, body);
        assert_eq!((status, &body), (404, &unknown), "{method} {path}");
    }
    let info = kh.get(id).unwrap();
    assert!(info.revoked_at.is_none() && info.name.is_none());
    let (_, page) = call(&api, &kh, "bob", "GET", "/keys", "");
    assert_eq!(page["keys"], serde_json::json!([]));
}

#[test]
fn escalation_is_refused_and_nothing_is_written() {
    let (kh, api) = setup(POLICY);
    for body in [
        r#"{"permissions": ["*"]}"#,
        r#"{"permissions": ["read", "admin"]}"#,
        r#"{"expiresIn": 3601}"#,
        r#"{"prefix": "root"}"#,
        r#"{"remaining": 1000000}"#,
        r#"{"rateLimit": {"limit": 1, "window": 1}}"#,
        r#"{"ownerId": "bob"}"#,
        r#"{"name": null}"#,
        r#"{"expiresIn": null}"#,
    ] {
        let (status, answer) = call(&api, &kh, "alice", "POST", "/keys", body);
        assert_eq!((status, code(&answer)), (400, "INVALID_ARGUMENT"), "{body}");
    }
    assert!(kh.list(&ListOptions::default()).unwrap().keys.is_empty());
    let refused = |policy: Policy| KeyApi::new(policy, &kh).is_err();
    assert!(refused(Policy { permissions: vec!["*".into()], ..Policy::default() }));
    assert!(refused(Policy { prefixes: vec!["no spaces".into()], ..Policy::default() }));
    assert!(refused(Policy {
        rate_limit: Some(crate::RateLimit { limit: 0, window: DEFAULT_MAX_GRACE }),
        ..Policy::default()
    }));
    assert!(Policy::from_json(r#"{"permisions": ["read"]}"#).is_err());
    let bounded =
        Keyhouse::open_in_memory(Config { max_expiry: Some(DEFAULT_MAX_GRACE), ..Config::default() }).unwrap();
    let too_long = Policy { max_expires_in: Some(DEFAULT_MAX_GRACE * 2), ..Policy::default() };
    assert!(KeyApi::new(too_long, &bounded).is_err());
}

#[test]
fn the_owner_limit_is_a_conflict() {
    let (kh, api) = setup(POLICY);
    for _ in 0..3 {
        assert_eq!(call(&api, &kh, "alice", "POST", "/keys", "{}").0, 201);
    }
    let (status, answer) = call(&api, &kh, "alice", "POST", "/keys", "{}");
    assert_eq!((status, code(&answer)), (409, "KEY_LIMIT_EXCEEDED"));
}

#[test]
fn bodies_are_checked_before_anything_is_written() {
    let (kh, api) = setup(POLICY);
    let send = |content_type: Option<&str>, body: &[u8]| {
        let req = Request { owner: Some("alice"), method: "POST", path: "/keys", query: "", content_type, body };
        let res = api.handle(&kh, &req);
        let json: Value = serde_json::from_str(&res.body).unwrap();
        (res.status, code(&json).to_owned())
    };
    assert_eq!(send(Some("text/plain"), b"{}"), (415, "UNSUPPORTED_MEDIA_TYPE".into()));
    assert_eq!(send(Some("application/x-www-form-urlencoded"), b"name=x"), (415, "UNSUPPORTED_MEDIA_TYPE".into()));
    assert_eq!(send(None, b"{}"), (415, "UNSUPPORTED_MEDIA_TYPE".into()));
    assert_eq!(send(Some("application/json; charset=latin1"), b"{}"), (415, "UNSUPPORTED_MEDIA_TYPE".into()));
    assert_eq!(send(Some("application/json"), b"{\"name\": "), (400, "INVALID_ARGUMENT".into()));
    assert_eq!(send(Some("application/json"), b"[1]"), (400, "INVALID_ARGUMENT".into()));
    assert_eq!(send(Some("application/json"), b"[null, null]"), (400, "INVALID_ARGUMENT".into()));
    assert_eq!(send(Some("application/json"), b"null"), (400, "INVALID_ARGUMENT".into()));
    assert_eq!(send(Some("application/json"), b""), (400, "INVALID_ARGUMENT".into()));
    assert_eq!(send(Some("application/json"), b"\xff\xfe"), (400, "INVALID_ARGUMENT".into()));
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(DEFAULT_MAX_BODY_BYTES));
    assert_eq!(send(Some("application/json"), big.as_bytes()), (413, "PAYLOAD_TOO_LARGE".into()));
    assert!(kh.list(&ListOptions::default()).unwrap().keys.is_empty());
    let (status, _) = call(&api, &kh, "", "GET", "/keys", "");
    assert_eq!(status, 401);
}

#[test]
fn the_plaintext_is_only_in_create_and_roll() {
    let (kh, api) = setup(r#"{"permissions": ["read"], "maxGrace": 60}"#);
    let req = Request {
        owner: Some("alice"),
        method: "POST",
        path: "/keys",
        query: "",
        content_type: Some("application/json"),
        body: b"{}",
    };
    let res = api.handle(&kh, &req);
    assert!(res.headers.contains(&("Cache-Control", "no-store".into())));
    let created: Value = serde_json::from_str(&res.body).unwrap();
    let (key, id) = (created["key"].as_str().unwrap(), created["id"].as_str().unwrap());
    assert!(!format!("{res:?}").contains(key), "Debug shows no body");
    assert_eq!(res.event.as_ref().map(|e| (e.kind, e.key_id.as_str())), Some(("created", id)));
    assert!(!res.event.unwrap().to_json().contains(key));
    for (method, path) in [("GET", "/keys".to_owned()), ("GET", format!("/keys/{id}"))] {
        let (_, answer) = call(&api, &kh, "alice", method, &path, "");
        assert!(!answer.to_string().contains(key));
    }
    let (status, answer) = call(&api, &kh, "alice", "POST", &format!("/keys/{id}/roll"), r#"{"grace": 61}"#);
    assert_eq!((status, code(&answer)), (400, "INVALID_ARGUMENT"));
    let (status, rolled) = call(&api, &kh, "alice", "POST", &format!("/keys/{id}/roll"), r#"{"grace": 60}"#);
    assert_eq!(status, 201);
    assert_ne!(rolled["key"].as_str().unwrap(), key);
}

#[test]
fn routes_methods_and_queries() {
    let (kh, api) = setup(POLICY);
    assert_eq!(call(&api, &kh, "alice", "DELETE", "/keys/AAAAAAAAAAAAAA", "").0, 405);
    assert_eq!(call(&api, &kh, "alice", "PUT", "/keys", "").0, 405);
    assert_eq!(call(&api, &kh, "alice", "GET", "/other", "").0, 404);
    let list = |query: &str| {
        let req = Request { owner: Some("a"), method: "GET", path: "/keys/", query, content_type: None, body: b"" };
        api.handle(&kh, &req).status
    };
    assert_eq!(list("limit=100&includeRevoked=true&x=%41"), 200);
    for bad in ["limit=0", "limit=101", "limit=x", "includeRevoked=yes", "cursor=%zz", "cursor=%ff"] {
        assert_eq!(list(bad), 400, "{bad}");
    }
}

#[test]
fn a_key_sent_in_the_wrong_place_is_not_echoed() {
    let (kh, api) = setup(POLICY);
    let key = kh.create(CreateOptions::default()).unwrap().key;
    for body in [
        format!(r#"{{"expiresIn": "{key}"}}"#),
        format!(r#"{{"{key}": 1}}"#),
        format!(r#"{{"name": 1, "x": "{key}"}}"#),
        format!(r#"{{"permissions": ["{key}"]}}"#),
        format!(r#"{{"prefix": "{key}"}}"#),
    ] {
        let (status, answer) = call(&api, &kh, "alice", "POST", "/keys", &body);
        assert_eq!(status, 400, "{body}");
        assert!(!answer.to_string().contains(&key[key.len() - 30..]), "{answer}");
    }
}

#[test]
fn an_owner_roll_keeps_the_expiry() {
    let (kh, api) = setup(POLICY);
    // An admin's key for alice, longer-lived than owners may make.
    let admin = CreateOptions {
        owner_id: Some("alice".into()),
        expires_in: Some(DEFAULT_MAX_GRACE * 30),
        ..CreateOptions::default()
    };
    let old = kh.create(admin).unwrap().info;
    let (status, rolled) = call(&api, &kh, "alice", "POST", &format!("/keys/{}/roll", old.id), "{}");
    assert_eq!(status, 201);
    assert_eq!(rolled["expiresAt"], serde_json::json!(old.expires_at.unwrap().to_string()));
}

#[test]
fn percent_encoded_paths_route_as_decoded() {
    let (kh, api) = setup(POLICY);
    let (_, created) = call(&api, &kh, "alice", "POST", "/keys", "{}");
    let id = created["id"].as_str().unwrap();
    let encoded = format!("/keys/%{:02X}{}", id.as_bytes()[0], &id[1..]);
    assert_eq!(call(&api, &kh, "alice", "GET", &encoded, "").0, 200);
    // A slash inside a segment stays inside it: this is `/keys/{id}` (with
    // an id that is not one), which takes no POST.
    assert_eq!(call(&api, &kh, "alice", "POST", &format!("/keys/{id}%2Frevoke"), "{}").0, 405);
    assert_eq!(call(&api, &kh, "alice", "GET", &format!("/keys/{id}%2Frevoke"), "").0, 404);
    assert_eq!(call(&api, &kh, "alice", "GET", "/keys/%zz", "").0, 404);
}
