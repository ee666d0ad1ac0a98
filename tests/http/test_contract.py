"""The self-service contract (core/src/self_service/openapi.yaml), checked
over real HTTP against both routers: FastAPI's key_router and Express's
keyRouter, each in its demo app. Every test runs once per server."""

import json
import re

import httpx
import pytest

from conftest import MAX_KEYS, Server

KEY = re.compile(r"[A-Za-z0-9]+_[A-Za-z0-9]{14}_[A-Za-z0-9]{40,}")
UNKNOWN_ID = "AAAAAAAAAAAAAA"


def error_of(r: httpx.Response, status: int) -> str:
    """The stable code of a refusal, after checking its one shape."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


def test_create_shows_the_key_once_and_it_works(server: Server):
    alice = server.user()
    r = alice.http.post("/keys", json={"name": "Production API", "expiresIn": 86400, "permissions": ["read"]})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    created = r.json()
    key = created["key"]
    assert KEY.fullmatch(key) and created["id"] in key
    assert created["name"] == "Production API" and created["permissions"] == ["read"]
    assert created["status"] == "active" and created["revokedAt"] is None
    assert alice.call_with(key) == 200

    shown = alice.http.get(f"/keys/{created['id']}")
    listed = alice.http.get("/keys")
    for r in (shown, listed):
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert key not in r.text
    assert "key" not in shown.json() and "key" not in listed.json()["keys"][0]
    assert [k["id"] for k in listed.json()["keys"]] == [created["id"]]


def test_update_changes_only_owner_fields(server: Server):
    alice = server.user()
    created = alice.create(name="old", metadata={"team": "a"})
    r = alice.http.patch(f"/keys/{created['id']}", json={"name": "new", "metadata": {"team": "b"}, "enabled": False})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["metadata"], r.json()["status"]) == ("new", {"team": "b"}, "disabled")
    assert alice.call_with(created["key"]) == 401
    r = alice.http.patch(f"/keys/{created['id']}", json={"name": None, "enabled": True})
    assert r.json()["name"] is None and r.json()["status"] == "active"
    assert alice.call_with(created["key"]) == 200
    for body in ({"permissions": ["write"]}, {"remaining": 10}, {"rateLimit": {"limit": 1, "window": 1}},
                 {"expiresAt": None}, {"enabled": "yes"}, {"enabled": None}):
        assert error_of(alice.http.patch(f"/keys/{created['id']}", json=body), 400) == "INVALID_ARGUMENT", body
    assert alice.http.get(f"/keys/{created['id']}").json()["permissions"] == ["read"]


def test_revoke_in_one_call_and_the_key_stops_working(server: Server):
    alice = server.user()
    created = alice.create()
    assert alice.call_with(created["key"]) == 200
    r = alice.http.post(f"/keys/{created['id']}/revoke", json={})
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    assert alice.call_with(created["key"]) == 401
    assert alice.http.post(f"/keys/{created['id']}/revoke", json={}).status_code == 200
    assert created["id"] not in alice.ids(include_revoked=False)
    assert created["id"] in alice.ids(include_revoked=True)


def test_roll_within_the_maximum_grace(server: Server):
    alice = server.user()
    old = alice.create()
    assert error_of(alice.http.post(f"/keys/{old['id']}/roll", json={"grace": 86401}), 400) == "INVALID_ARGUMENT"
    r = alice.http.post(f"/keys/{old['id']}/roll", json={"grace": 0})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store", r.text
    new = r.json()
    assert new["id"] != old["id"] and KEY.fullmatch(new["key"])
    assert new["expiresAt"] == old["expiresAt"], "a roll is a new secret, not a longer life"
    assert alice.call_with(new["key"]) == 200
    assert alice.call_with(old["key"]) == 401
    assert error_of(alice.http.post(f"/keys/{old['id']}/roll", json={}), 400) == "INVALID_ARGUMENT"


def test_delete_where_the_app_allows_it(server: Server):
    alice = server.user()
    created = alice.create()
    r = alice.http.delete(f"/keys/{created['id']}")
    assert r.status_code == 204 and r.content == b"" and r.headers["cache-control"] == "no-store"
    assert error_of(alice.http.get(f"/keys/{created['id']}"), 404) == "NOT_FOUND"
    assert alice.call_with(created["key"]) == 401


def test_another_owners_key_answers_404_like_an_unknown_one(server: Server):
    alice, bob = server.user(), server.user()
    created = alice.create(name="alice's")
    alice.create(name="a second, so that her listing has pages")
    id_ = created["id"]
    unknown = bob.http.get(f"/keys/{UNKNOWN_ID}")
    assert error_of(unknown, 404) == "NOT_FOUND"
    probes = [
        ("GET", f"/keys/{id_}", None),
        ("PATCH", f"/keys/{id_}", {"name": "bob's now", "enabled": False}),
        ("POST", f"/keys/{id_}/revoke", {}),
        ("POST", f"/keys/{id_}/roll", {"grace": 0}),
        ("DELETE", f"/keys/{id_}", None),
    ]
    for method, path, body in probes:
        r = bob.http.request(method, path, json=body)
        assert error_of(r, 404) == "NOT_FOUND", (method, path)
        assert r.json() == unknown.json(), "the same answer as for an unknown id"
    assert bob.ids() == []
    after = alice.http.get(f"/keys/{id_}").json()
    assert (after["name"], after["status"]) == ("alice's", "active")
    assert alice.call_with(created["key"]) == 200
    # A cursor is no way in either: bob's listing stays bob's.
    cursor = alice.http.get("/keys", params={"limit": 1}).json()["nextCursor"]
    assert cursor is not None
    assert bob.http.get("/keys", params={"cursor": cursor}).json()["keys"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["*"]},
        {"permissions": ["read", "admin"]},
        {"permissions": ["read:*"]},
        {"expiresIn": 365 * 24 * 3600 + 1},
        {"expiresIn": 0},
        {"expiresIn": -1},
        {"expiresIn": 2**64},
        {"expiresIn": "kh_0123456789abcd_0123456789012345678901234567890123456789"},
        {"prefix": "root"},
        {"remaining": 10**9},
        {"refill": {"amount": 10, "interval": 60}},
        {"rateLimit": {"limit": 10**6, "window": 1}},
        {"ownerId": "someone-else"},
        {"expiresAt": "2099-01-01T00:00:00Z"},
        {"name": ""},
        {"name": "x" * 257},
        {"name": None},
        {"permissions": "read"},
        {"metadata": [1, 2]},
    ],
)
def test_self_escalation_and_bad_fields_are_refused(server: Server, body):
    alice = server.user()
    r = alice.http.post("/keys", json=body)
    assert error_of(r, 400) == "INVALID_ARGUMENT"
    assert KEY.search(r.text) is None, "a key-shaped value was echoed"
    assert alice.ids() == [], "nothing was written"


def test_the_allowlist_and_defaults(server: Server):
    alice = server.user()
    assert alice.create()["permissions"] == ["read"]
    assert alice.create(permissions=["read", "write"], prefix="demo")["prefix"] == "demo"
    assert alice.create(permissions=[])["permissions"] == []
    lifetime = alice.create()
    assert lifetime["expiresAt"] is not None, "the maximum lifetime is also the default"


def test_the_per_owner_limit_is_a_409(server: Server):
    alice = server.user()
    for _ in range(MAX_KEYS):
        alice.create()
    assert error_of(alice.http.post("/keys", json={}), 409) == "KEY_LIMIT_EXCEEDED"
    # A roll replaces a key, so it is allowed at the limit; the count stays.
    first = alice.ids()[0]
    assert alice.http.post(f"/keys/{first}/roll", json={}).status_code == 201
    assert error_of(alice.http.post("/keys", json={}), 409) == "KEY_LIMIT_EXCEEDED"
    active = [k["id"] for k in alice.http.get("/keys").json()["keys"] if k["status"] == "active"]
    assert len(active) == MAX_KEYS
    alice.http.post(f"/keys/{active[0]}/revoke", json={})
    alice.create()


@pytest.mark.parametrize(
    "content_type, body, status, code",
    [
        ("application/json", b'{"name": ', 400, "INVALID_ARGUMENT"),
        ("application/json", b"", 400, "INVALID_ARGUMENT"),
        ("application/json", b"[null, null]", 400, "INVALID_ARGUMENT"),
        ("application/json", b'"text"', 400, "INVALID_ARGUMENT"),
        ("application/json", b"\xff\xfe\x00", 400, "INVALID_ARGUMENT"),
        ("application/json", b'{"name": "a", "name": ', 400, "INVALID_ARGUMENT"),
        ("application/json", b'{"nested": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "INVALID_ARGUMENT"),
        ("application/json", b'{"name": "' + b"x" * 17000 + b'"}', 413, "PAYLOAD_TOO_LARGE"),
        ("application/json", b"{" + b" " * (5 << 20) + b"}", 413, "PAYLOAD_TOO_LARGE"),
        ("application/x-www-form-urlencoded", b"name=x", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("multipart/form-data; boundary=x", b"--x--", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("text/plain", b"{}", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("application/json; charset=utf-16", b"{}", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (None, b"", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_written(server: Server, content_type, body, status, code):
    alice = server.user()
    victim = alice.create()
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/keys", f"/keys/{victim['id']}/revoke", f"/keys/{victim['id']}/roll"):
        r = alice.http.post(path, content=body, headers=headers)
        assert error_of(r, status) == code, (path, r.text)
    r = alice.http.patch(f"/keys/{victim['id']}", content=body, headers=headers)
    assert error_of(r, status) == code
    assert alice.ids() == [victim["id"]]
    assert alice.http.get(f"/keys/{victim['id']}").json()["status"] == "active"


def test_no_one_signed_in_is_a_401_everywhere(server: Server):
    anon = httpx.Client(base_url=server.url + "/api", timeout=30)
    victim = server.user().create()
    for method, path, body in [
        ("GET", "/keys", None),
        ("POST", "/keys", {}),
        ("GET", f"/keys/{victim['id']}", None),
        ("PATCH", f"/keys/{victim['id']}", {"name": "x"}),
        ("POST", f"/keys/{victim['id']}/revoke", {}),
        ("POST", f"/keys/{victim['id']}/roll", {}),
        ("DELETE", f"/keys/{victim['id']}", None),
        ("GET", "/keys/nothing/here", None),
    ]:
        assert error_of(anon.request(method, path, json=body), 401) == "UNAUTHENTICATED", (method, path)
    # A cookie the app does not accept is no one too.
    forged = httpx.Client(base_url=server.url + "/api", cookies={"demo_user": "../admin"}, timeout=30)
    assert error_of(forged.get("/keys"), 401) == "UNAUTHENTICATED"


def test_unknown_paths_methods_ids_and_queries(server: Server):
    alice = server.user()
    created = alice.create()
    assert error_of(alice.http.put("/keys", json={}), 405) == "METHOD_NOT_ALLOWED"
    r = alice.http.put(f"/keys/{created['id']}", json={})
    assert error_of(r, 405) == "METHOD_NOT_ALLOWED" and "PATCH" in r.headers["allow"]
    assert error_of(alice.http.get(f"/keys/{created['id']}/revoke"), 405) == "METHOD_NOT_ALLOWED"
    assert error_of(alice.http.get(f"/keys/{created['id']}/other"), 404) == "NOT_FOUND"
    for bad_id in [created["key"], "x" * 5000, "%00", "..%2F..%2Fetc", "ÄÖÜ", UNKNOWN_ID.lower(), " " + created["id"]]:
        r = alice.http.get("/keys/" + bad_id)
        assert error_of(r, 404) == "NOT_FOUND", bad_id
        assert created["key"] not in r.text
    # Percent-encoding: decoded per segment, the same in both frameworks.
    encoded = "%{:02X}{}".format(ord(created["id"][0]), created["id"][1:])
    assert alice.http.get("/keys/" + encoded).status_code == 200
    assert error_of(alice.http.post(f"/keys/{created['id']}%2Froll", json={}), 405) == "METHOD_NOT_ALLOWED"
    assert error_of(alice.http.get(f"/keys/{created['id']}%2Froll"), 404) == "NOT_FOUND"
    for query in ["limit=0", "limit=101", "limit=-1", "limit=1e3", "includeRevoked=maybe", "cursor=%ZZ", "cursor=not-a-cursor"]:
        assert error_of(alice.http.get("/keys?" + query), 400) == "INVALID_ARGUMENT", query


def test_pages_and_cursors(server: Server):
    alice = server.user()
    made = [alice.create(name=f"k{i}")["id"] for i in range(4)]
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = alice.http.get("/keys", params=params).json()
        seen += [k["id"] for k in page["keys"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == made


def test_server_output_never_holds_a_key_and_has_the_events(server: Server):
    """Runs last in this module: everything the server printed so far."""
    alice = server.user()
    created = alice.create()
    alice.http.post(f"/keys/{created['id']}/roll", json={})
    output = server.output_with(f"event rolled key={created['id']} owner={alice.name} new=")
    assert KEY.search(output) is None, "a plaintext key reached the server's output"
    assert f"event created key={created['id']} owner={alice.name}" in output
    assert f"event rolled key={created['id']} owner={alice.name} new=" in output
    assert "event revoked" in output and "event deleted" in output
    assert json.dumps(created["key"]) not in output
