//! Self-service key management over HTTP: the one implementation of the
//! contract in `core/src/self_service/openapi.yaml`, behind every router.
//!
//! A framework adapter (FastAPI's `key_router`, Express's `keyRouter`)
//! does only glue: it finds the caller's owner id, reads the body up to
//! [`Policy::max_body_bytes`], and hands method, path, query, content type
//! and body to [`KeyApi::handle`]. The status, headers and JSON it sends
//! back come from here, so the frameworks cannot drift apart, and a third
//! framework costs only its glue.
//!
//! The rules every answer follows:
//! - an owner sees and touches only keys whose `owner_id` is theirs; any
//!   other id, valid or not, answers 404 with the same message;
//! - what a key may do is the app's [`Policy`], never the caller's wish;
//! - POST and PATCH take only `application/json`, which a cross-site HTML
//!   form cannot send;
//! - errors are `{"error": {"code", "message"}}` with a stable code;
//! - the plaintext key appears only in the body of a create or roll.

mod policy;
mod wire;

use std::fmt;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::format::is_valid_id;
use crate::model::{CreateOptions, KeyInfo, ListOptions, UpdateOptions};
use crate::{Keyhouse, Timestamp};
pub use policy::{Policy, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_GRACE};
use wire::{created_json, key_json, parse, CreateBody, EmptyBody, RollBody, UpdateBody};

/// The contract, as an OpenAPI 3.1 document.
pub const OPENAPI: &str = include_str!("openapi.yaml");

/// Keys per page when the request names no `limit`.
const DEFAULT_PAGE: u32 = 50;
/// The most keys one page may ask for.
const MAX_PAGE: u32 = 100;

/// One HTTP request, as a framework received it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The signed-in owner, or `None` when the app found no one (401).
    pub owner: Option<&'a str>,
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The path below the router's mount point, e.g. `/keys/abc/revoke`.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The body as read, at most one byte past the policy's limit.
    pub body: &'a [u8],
}

/// A [`Request`] that owns its parts: what a binding builds from its host's
/// values, so that the request can be answered off the host's thread.
#[derive(Clone, Default)]
pub struct OwnedRequest {
    /// The signed-in owner, or `None` (401).
    pub owner: Option<String>,
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path below the router's mount point, still percent-encoded.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body as read, at most one byte past the policy's limit.
    pub body: Vec<u8>,
}

impl OwnedRequest {
    /// The request, borrowed.
    pub fn as_request(&self) -> Request<'_> {
        Request {
            owner: self.owner.as_deref(),
            method: &self.method,
            path: &self.path,
            query: &self.query,
            content_type: self.content_type.as_deref(),
            body: &self.body,
        }
    }
}

/// What to send back.
#[derive(Clone, PartialEq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Headers to set (`Content-Type`, `Cache-Control`, and `Allow` on a 405).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body; empty for 204.
    pub body: String,
    /// What changed, for the app's `on_event` callback.
    pub event: Option<Event>,
}

impl fmt::Debug for Response {
    /// The body may hold a new key's plaintext, so it is never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &"<not shown>")
            .field("event", &self.event)
            .finish()
    }
}

/// What happened to a key, for audit logs and emails. It never holds the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `created`, `revoked`, `rolled` or `deleted`.
    pub kind: &'static str,
    /// The owner who acted.
    pub owner_id: String,
    /// The key acted on (for a roll, the old key).
    pub key_id: String,
    /// For a roll, the replacement's id.
    pub new_key_id: Option<String>,
    /// When it happened.
    pub at: Timestamp,
}

impl Event {
    /// The event as camelCase JSON, the form the bindings hand to callbacks.
    pub fn to_json(&self) -> String {
        json!({
            "type": self.kind,
            "ownerId": self.owner_id,
            "keyId": self.key_id,
            "newKeyId": self.new_key_id,
            "at": self.at.to_string(),
        })
        .to_string()
    }
}

/// The self-service API for one store and one policy.
#[derive(Clone, Debug)]
pub struct KeyApi {
    policy: Policy,
}

/// An answer that is not a success: the status, the stable code, a message.
struct Refusal(u16, &'static str, String, Vec<(&'static str, String)>);

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        let code = e.code().as_str();
        match e {
            // The same words for an unknown id and another owner's, so
            // neither existence nor ownership can be probed.
            Error::NotFound(_) => Refusal(404, code, "no key with this id".into(), vec![]),
            Error::InvalidArgument(m) => Refusal(400, code, m, vec![]),
            Error::KeyLimitExceeded { limit, .. } => {
                Refusal(409, code, format!("you already have the maximum of {limit} active keys"), vec![])
            }
            // Server-side failures: the detail (paths, SQL, server names)
            // is not the client's business; the code says what kind it was.
            Error::StoreBusy(_) | Error::Closed => {
                Refusal(503, code, "the key store is unavailable; try again".into(), vec![])
            }
            _ => Refusal(500, code, "the key store failed".into(), vec![]),
        }
    }
}

impl KeyApi {
    /// An API with these rules for the store `kh`; INVALID_ARGUMENT if they
    /// contradict each other or the store's config.
    pub fn new(policy: Policy, kh: &Keyhouse) -> Result<Self> {
        policy.validate(kh.config())?;
        Ok(KeyApi { policy })
    }

    /// The rules in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Answers one request. Never panics on client input: every refusal is
    /// a 4xx with a code, and nothing is written unless the whole request
    /// is acceptable.
    pub fn handle(&self, kh: &Keyhouse, req: &Request<'_>) -> Response {
        let now = kh.now();
        match self.route(kh, req, now) {
            Ok((status, body, event)) => Response {
                status,
                headers: common_headers(),
                body: if status == 204 { String::new() } else { body.to_string() },
                event,
            },
            Err(Refusal(status, code, message, extra)) => {
                let mut headers = common_headers();
                headers.extend(extra);
                let body = json!({"error": {"code": code, "message": message}}).to_string();
                Response { status, headers, body, event: None }
            }
        }
    }

    fn route(&self, kh: &Keyhouse, req: &Request<'_>, now: Timestamp) -> Result<(u16, Value, Option<Event>), Refusal> {
        let owner = match req.owner {
            Some(o) if !o.is_empty() => o,
            _ => return Err(Refusal(401, "UNAUTHENTICATED", "sign in to manage your API keys".into(), vec![])),
        };
        let path = req.path.strip_suffix('/').unwrap_or(req.path);
        // Each segment is decoded on its own, so `%2F` inside an id stays
        // inside it: frameworks that hand over the raw path and those
        // that decode first route the same.
        let decoded: Vec<String> = path
            .strip_prefix('/')
            .unwrap_or(path)
            .split('/')
            .map(|seg| percent_decode(seg, false))
            .collect::<Result<_>>()
            .map_err(|_| no_endpoint())?;
        let parts: Vec<&str> = decoded.iter().map(String::as_str).collect();
        let event = |kind, key_id: &str, new_key_id: Option<&str>| Event {
            kind,
            owner_id: owner.to_owned(),
            key_id: key_id.to_owned(),
            new_key_id: new_key_id.map(str::to_owned),
            at: now,
        };
        match (req.method, parts.as_slice()) {
            ("GET", ["keys"]) => {
                let options = list_options(owner, req.query)?;
                let page = kh.list(&options)?;
                let keys: Vec<Value> = page.keys.iter().map(|k| Value::Object(key_json(k, now))).collect();
                Ok((200, json!({"keys": keys, "nextCursor": page.next_cursor}), None))
            }
            ("POST", ["keys"]) => {
                let body: CreateBody = self.body(req)?;
                let created = kh.create(self.create_options(owner, body)?)?;
                let ev = event("created", &created.info.id, None);
                Ok((201, Value::Object(created_json(&created, now)), Some(ev)))
            }
            ("GET", ["keys", id]) => Ok((200, Value::Object(key_json(&owned(kh, owner, id)?, now)), None)),
            ("PATCH", ["keys", id]) => {
                let body: UpdateBody = self.body(req)?;
                owned(kh, owner, id)?;
                let info = kh.update(id, self.update_options(body)?)?;
                Ok((200, Value::Object(key_json(&info, now)), None))
            }
            ("DELETE", ["keys", id]) if self.policy.allow_delete => {
                owned(kh, owner, id)?;
                kh.delete(id)?;
                Ok((204, Value::Null, Some(event("deleted", id, None))))
            }
            ("POST", ["keys", id, "revoke"]) => {
                let EmptyBody {} = self.body(req)?;
                let before = owned(kh, owner, id)?;
                let info = kh.revoke(id)?;
                let ev = before.revoked_at.is_none().then(|| event("revoked", id, None));
                Ok((200, Value::Object(key_json(&info, now)), ev))
            }
            ("POST", ["keys", id, "roll"]) => {
                let body: RollBody = self.body(req)?;
                let grace = self.policy.grace(body.grace)?;
                owned(kh, owner, id)?;
                // A new secret, not a longer life: the replacement keeps
                // the old key's expiry (a plain `roll` would restart it).
                let created = kh.roll_with(id, grace, true)?;
                let ev = event("rolled", id, Some(&created.info.id));
                Ok((201, Value::Object(created_json(&created, now)), Some(ev)))
            }
            (_, ["keys"]) => Err(not_allowed("GET, POST")),
            (_, ["keys", _]) => {
                Err(not_allowed(if self.policy.allow_delete { "GET, PATCH, DELETE" } else { "GET, PATCH" }))
            }
            (_, ["keys", _, "revoke" | "roll"]) => Err(not_allowed("POST")),
            _ => Err(no_endpoint()),
        }
    }

    /// The body of a POST or PATCH: JSON only, within the size limit.
    fn body<T: for<'de> serde::Deserialize<'de>>(&self, req: &Request<'_>) -> Result<T, Refusal> {
        if req.body.len() > self.policy.max_body_bytes {
            let message = format!("the body may be at most {} bytes", self.policy.max_body_bytes);
            return Err(Refusal(413, "PAYLOAD_TOO_LARGE", message, vec![]));
        }
        if !is_json(req.content_type) {
            let message = "send the body as application/json".to_owned();
            return Err(Refusal(415, "UNSUPPORTED_MEDIA_TYPE", message, vec![]));
        }
        Ok(parse(req.body)?)
    }

    fn create_options(&self, owner: &str, body: CreateBody) -> Result<CreateOptions> {
        let p = &self.policy;
        if !p.owner_limits && (body.remaining.is_some() || body.refill.is_some() || body.rate_limit.is_some()) {
            return Err(admin_only());
        }
        let permissions = body.permissions.unwrap_or_else(|| p.default_permissions.clone());
        p.check_permissions(&permissions)?;
        if let Some(prefix) = &body.prefix {
            p.check_prefix(prefix)?;
        }
        Ok(CreateOptions {
            owner_id: Some(owner.to_owned()),
            name: body.name,
            prefix: body.prefix,
            expires_in: p.expires_in(body.expires_in)?,
            expires_at: None,
            // Always explicit: the store's default permissions are an
            // admin setting and may be broader than the allowlist.
            permissions: Some(permissions),
            metadata: body.metadata,
            remaining: body.remaining,
            refill: body.refill.map(Into::into),
            rate_limit: body.rate_limit.map(Into::into).or(p.rate_limit),
        })
    }

    fn update_options(&self, body: UpdateBody) -> Result<UpdateOptions> {
        if !self.policy.owner_limits && body.sets_limits() {
            return Err(admin_only());
        }
        Ok(UpdateOptions {
            name: body.name,
            enabled: body.enabled,
            metadata: body.metadata,
            remaining: body.remaining,
            refill: body.refill.map(|r| r.map(Into::into)),
            rate_limit: body.rate_limit.map(|r| r.map(Into::into)),
            ..Default::default()
        })
    }
}

fn admin_only() -> Error {
    Error::invalid("remaining, refill and rateLimit are set by the app, not by key owners")
}

/// A path outside the contract (or one that does not decode).
fn no_endpoint() -> Refusal {
    Refusal(404, "NOT_FOUND", "no such endpoint".into(), vec![])
}

fn not_allowed(allow: &'static str) -> Refusal {
    Refusal(405, "METHOD_NOT_ALLOWED", format!("this path takes {allow}"), vec![("Allow", allow.to_owned())])
}

/// Every answer may describe keys: nothing may cache it.
fn common_headers() -> Vec<(&'static str, String)> {
    vec![("Content-Type", "application/json".into()), ("Cache-Control", "no-store".into())]
}

/// The key `id`, if it belongs to `owner`; NOT_FOUND otherwise, whether
/// the id is unknown, another owner's or not an id at all. An owner id
/// never changes after creation, so the key stays theirs for the
/// operation that follows.
fn owned(kh: &Keyhouse, owner: &str, id: &str) -> Result<KeyInfo> {
    let not_found = || Error::NotFound(String::new());
    if !is_valid_id(id) {
        return Err(not_found());
    }
    let info = kh.get(id)?;
    if info.owner_id.as_deref() == Some(owner) {
        Ok(info)
    } else {
        Err(not_found())
    }
}

/// `application/json`, with at most a UTF-8 charset.
fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mut parts = ct.split(';').map(str::trim);
    let media_ok = parts.next().is_some_and(|m| m.eq_ignore_ascii_case("application/json"));
    media_ok
        && parts.all(|param| match param.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => param.is_empty(),
        })
}

/// `limit`, `cursor` and `includeRevoked` from the query; others are ignored.
fn list_options(owner: &str, query: &str) -> Result<ListOptions> {
    let mut options = ListOptions { owner_id: Some(owner.to_owned()), limit: DEFAULT_PAGE, ..Default::default() };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value, true)?;
        match percent_decode(name, true)?.as_str() {
            "limit" => {
                options.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| Error::invalid(format!("limit must be a whole number from 1 to {MAX_PAGE}")))?;
            }
            "cursor" => options.cursor = Some(value),
            "includeRevoked" => {
                options.include_revoked = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Error::invalid("includeRevoked must be true or false")),
                }
            }
            _ => {}
        }
    }
    Ok(options)
}

/// Decodes `%XX` (and, in a query, `+` as a space).
fn percent_decode(s: &str, query: bool) -> Result<String> {
    let bad = || Error::invalid("the query string is not valid percent-encoded UTF-8");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if query => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit)).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests;
