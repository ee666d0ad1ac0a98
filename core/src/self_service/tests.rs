use serde_json::Value;

use super::*;
use crate::{Config, Keyhouse};

fn api(policy: &str) -> KeyApi {
    KeyApi::new(Policy::from_json(policy).unwrap()).unwrap()
}

fn store() -> Keyhouse {
    let config = Config { max_keys_per_owner: Some(3), default_permissions: vec!["*".into()], ..Config::default() };
    Keyhouse::open_in_memory(config).unwrap()
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
    let (kh, api) = (store(), api(POLICY));
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
    let (kh, api) = (store(), api(r#"{"permissions": ["read"], "allowDelete": true}"#));
    let (_, created) = call(&api, &kh, "alice", "POST", "/keys", "{}");
    let id = created["id"].as_str().unwrap();
    let (_, unknown) = call(&api, &kh, "bob", "GET", "/keys/AAAAAAAAAAAAAA", "");
    for (method, path, body) in [
        ("GET", format!("/keys/{id}"), ""),
        ("PATCH", format!("/keys/{id}"), r#"{"name": "mine"}"#),
        ("POST", format!("/keys/{id}/revoke"), ""),
        ("POST", format!("/keys/{id}/roll"), ""),
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
    let (kh, api) = (store(), api(POLICY));
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
    assert!(KeyApi::new(Policy { permissions: vec!["*".into()], ..Policy::default() }).is_err());
    assert!(Policy::from_json(r#"{"permisions": ["read"]}"#).is_err());
}

#[test]
fn the_owner_limit_is_a_conflict() {
    let (kh, api) = (store(), api(POLICY));
    for _ in 0..3 {
        assert_eq!(call(&api, &kh, "alice", "POST", "/keys", "{}").0, 201);
    }
    let (status, answer) = call(&api, &kh, "alice", "POST", "/keys", "{}");
    assert_eq!((status, code(&answer)), (409, "KEY_LIMIT_EXCEEDED"));
}

#[test]
fn bodies_are_checked_before_anything_is_written() {
    let (kh, api) = (store(), api(POLICY));
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
    assert_eq!(send(Some("application/json"), b"\xff\xfe"), (400, "INVALID_ARGUMENT".into()));
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(DEFAULT_MAX_BODY_BYTES));
    assert_eq!(send(Some("application/json"), big.as_bytes()), (413, "PAYLOAD_TOO_LARGE".into()));
    assert!(kh.list(&ListOptions::default()).unwrap().keys.is_empty());
    let (status, _) = call(&api, &kh, "", "GET", "/keys", "");
    assert_eq!(status, 401);
}

#[test]
fn the_plaintext_is_only_in_create_and_roll() {
    let (kh, api) = (store(), api(r#"{"permissions": ["read"], "maxGrace": 60}"#));
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
    let (kh, api) = (store(), api(POLICY));
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
