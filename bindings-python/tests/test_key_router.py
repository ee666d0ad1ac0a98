"""key_router's own glue: the owner dependency, the policy arguments,
on_event, and the body limit. The contract itself is tested over HTTP
against both routers in tests/http."""

import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException as StarletteHTTPException

import keyhouse
from keyhouse.fastapi import KeyEvent, key_router


def owner_from_header(x_user: str = Header(default="")) -> str:
    if x_user == "":
        raise HTTPException(status_code=401, detail="who are you?")
    return x_user


def app_with(kh, **options) -> TestClient:
    app = FastAPI()
    app.include_router(key_router(kh, owner=owner_from_header, **options), prefix="/api")
    return TestClient(app)


def test_a_401_from_the_owner_dependency_has_the_routers_shape(kh):
    client = app_with(kh, permissions=["read"])
    r = client.get("/api/keys")
    assert r.status_code == 401
    assert r.json() == {"error": {"code": "UNAUTHENTICATED", "message": "who are you?"}}
    assert r.headers["cache-control"] == "no-store"


def test_policy_arguments_reach_the_core(kh):
    client = app_with(kh, permissions=["read"], default_permissions=["read"], max_expires_in=timedelta(hours=1), max_grace=60,
                      rate_limit=keyhouse.RateLimit(10, 60))
    r = client.post("/api/keys", json={}, headers={"x-user": "alice"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["permissions"], body["remaining"], body["rateLimit"]) == (["read"], None, {"limit": 10, "window": 60.0})
    info = kh.get(body["id"])
    assert info.owner_id == "alice" and info.expires_at - info.created_at == timedelta(hours=1)
    r = client.post(f"/api/keys/{body['id']}/roll", json={"grace": 61}, headers={"x-user": "alice"})
    assert r.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_a_bad_policy_fails_when_the_router_is_made(kh):
    with pytest.raises(keyhouse.InvalidArgumentError):
        key_router(kh, owner=owner_from_header, permissions=["*"])
    with pytest.raises(keyhouse.InvalidArgumentError):
        key_router(kh, owner=owner_from_header, permissions=["read"], default_permissions=["write"])
    with pytest.raises(TypeError):
        key_router(kh, owner=owner_from_header, max_grace=1.5)


@pytest.mark.parametrize("is_async", [False, True])
def test_on_event_sees_changes_not_keys_and_may_fail(kh, is_async, caplog):
    events = []

    def sync_handler(e: KeyEvent) -> None:
        events.append(e)
        raise RuntimeError("the audit log is down")

    async def async_handler(e: KeyEvent) -> None:
        sync_handler(e)

    client = app_with(kh, permissions=["read"], allow_delete=True, on_event=async_handler if is_async else sync_handler)
    me = {"x-user": "alice"}
    created = client.post("/api/keys", json={}, headers=me).json()
    rolled = client.post(f"/api/keys/{created['id']}/roll", json={}, headers=me).json()
    assert client.post(f"/api/keys/{rolled['id']}/revoke", json={}, headers=me).status_code == 200
    assert client.delete(f"/api/keys/{rolled['id']}", headers=me).status_code == 204
    assert [(e.type, e.key_id, e.new_key_id) for e in events] == [
        ("created", created["id"], None),
        ("rolled", created["id"], rolled["id"]),
        ("revoked", rolled["id"], None),
        ("deleted", rolled["id"], None),
    ]
    assert all(e.owner_id == "alice" and e.at.tzinfo is not None for e in events)
    assert created["key"] not in repr(events) and created["key"] not in caplog.text
    assert "on_event failed" in caplog.text


def test_the_body_limit(kh):
    client = app_with(kh, permissions=["read"], max_body_bytes=64)
    r = client.post("/api/keys", content=b'{"name": "' + b"x" * 100 + b'"}', headers={"x-user": "a", "content-type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert kh.list().keys == []


def test_owner_ids_that_are_not_strings(kh):
    for value in [42, uuid.UUID(int=7)]:
        app = FastAPI()
        app.include_router(key_router(kh, owner=lambda value=value: value), prefix="/api")
        created = TestClient(app).post("/api/keys", json={}).json()
        assert kh.get(created["id"]).owner_id == str(value)

    class User:
        id = 1

    app = FastAPI()
    app.include_router(key_router(kh, owner=lambda: User()), prefix="/api")
    with pytest.raises(TypeError, match="owner must return"):
        TestClient(app).get("/api/keys")


def test_a_starlette_401_from_the_owner_dependency_too(kh):
    def no_session() -> str:
        raise StarletteHTTPException(status_code=401, detail="no session")

    app = FastAPI()
    app.include_router(key_router(kh, owner=no_session), prefix="/api")
    r = TestClient(app).get("/api/keys")
    assert (r.status_code, r.json()["error"]["code"], r.headers["cache-control"]) == (401, "UNAUTHENTICATED", "no-store")
