"""The FastAPI dependency, through FastAPI's TestClient."""

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi import Depends, FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import keyhouse  # noqa: E402
from keyhouse.fastapi import APIKeyAuth  # noqa: E402


@pytest.fixture
def setup(kh):
    app = FastAPI()
    read = APIKeyAuth(kh, permissions=["files:read"])
    threaded = APIKeyAuth(kh, run_in_thread=True)

    @app.get("/files")
    def files(key: keyhouse.KeyInfo = Depends(read)):
        return {"id": key.id, "owner": key.owner_id}

    @app.get("/any")
    async def any_key(key: keyhouse.KeyInfo = Depends(threaded)):
        return {"id": key.id}

    return kh, TestClient(app)


def test_valid_key_reaches_the_route(setup):
    kh, client = setup
    c = kh.create(owner_id="u1", permissions=["files:*"])
    for headers in ({"X-API-Key": c.key}, {"Authorization": f"Bearer {c.key}"}):
        r = client.get("/files", headers=headers)
        assert r.status_code == 200 and r.json() == {"id": c.info.id, "owner": "u1"}
    assert client.get("/any", headers={"X-API-Key": c.key}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}])
def test_missing_key_is_401(setup, headers):
    _, client = setup
    r = client.get("/files", headers=headers)
    assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]


def test_bad_keys_are_401(setup):
    kh, client = setup
    revoked = kh.create(permissions=["files:read"])
    kh.revoke(revoked.info.id)
    disabled = kh.create(permissions=["files:read"])
    kh.update(disabled.info.id, enabled=False)
    cases = {
        "garbage": "MALFORMED",
        keyhouse.generate().key: "NOT_FOUND",
        revoked.key: "REVOKED",
        disabled.key: "DISABLED",
    }
    for key, detail in cases.items():
        r = client.get("/files", headers={"X-API-Key": key})
        assert (r.status_code, r.json()["detail"]) == (401, detail)


def test_missing_permission_is_403(setup):
    kh, client = setup
    c = kh.create(permissions=["billing:read"])
    r = client.get("/files", headers={"X-API-Key": c.key})
    assert (r.status_code, r.json()["detail"]) == (403, "INSUFFICIENT_PERMISSIONS")


def test_limits_are_429_with_retry_after(setup):
    kh, client = setup
    limited = kh.create(permissions=["files:read"], rate_limit=keyhouse.RateLimit(1, 30))
    assert client.get("/files", headers={"X-API-Key": limited.key}).status_code == 200
    r = client.get("/files", headers={"X-API-Key": limited.key})
    assert r.status_code == 429 and r.json()["detail"] == "RATE_LIMITED"
    assert 1 <= int(r.headers["retry-after"]) <= 30

    spent = kh.create(permissions=["files:read"], remaining=0)
    r = client.get("/files", headers={"X-API-Key": spent.key})
    assert r.status_code == 429 and r.json()["detail"] == "USAGE_EXCEEDED"
    # No refill brings credits back: a day-long hint.
    assert int(r.headers["retry-after"]) == 86400

    # With a refill, the core says when it is due.
    refilled = kh.create(permissions=["files:read"], remaining=0, refill=keyhouse.Refill(5, 30))
    r = client.get("/files", headers={"X-API-Key": refilled.key})
    assert r.status_code == 429 and r.json()["detail"] == "USAGE_EXCEEDED"
    assert 1 <= int(r.headers["retry-after"]) <= 30


def test_no_client_input_gets_a_500(tmp_path):
    db = str(tmp_path / "peppered.db")
    with keyhouse.Keyhouse(db, pepper=keyhouse.Pepper("p1", b"s" * 32)) as old:
        dropped = old.create().key
    kh = keyhouse.Keyhouse(db)  # the service no longer knows pepper p1
    app = FastAPI()

    @app.get("/any")
    def any_key(key: keyhouse.KeyInfo = Depends(APIKeyAuth(kh))):
        return {"id": key.id}

    client = TestClient(app)
    forged = dropped[:-10] + "A" * 10
    for value in [dropped, forged, "k" * 100_000, "kh_" + "_" * 200, "ключ", "kh_\x7f\x01", "Bearer", " "]:
        for headers in [{"X-API-Key": value}, {"Authorization": f"Bearer {value}"}]:
            try:
                status = client.get("/any", headers=headers).status_code
            except UnicodeEncodeError:
                status = client.get("/any", headers={k: v.encode("utf-8") for k, v in headers.items()}).status_code
            assert status == 401, (value[:20], headers.keys(), status)
    kh.close()
