"""The PostgreSQL store from Python: opening, configuration, async verify,
failures, and the FastAPI dependency on a shared store."""

import asyncio
import time

import pytest

import keyhouse
from conftest import pg_url, psql


@pytest.fixture
def pg(pg_schema):
    with keyhouse.Keyhouse(pg_url(), schema=pg_schema) as store:
        yield store


def test_a_postgres_url_opens_a_shared_store(pg, pg_schema):
    c = pg.create(remaining=2, owner_id="team")
    assert pg.verify(c.key).is_valid()
    other = keyhouse.Keyhouse(pg_url(), schema=pg_schema, max_staleness=0.2, pool_size=2)
    assert other.verify(c.key).key.remaining == 0
    assert pg.verify(c.key).outcome is keyhouse.Outcome.USAGE_EXCEEDED
    assert psql(f'SELECT count(*) FROM "{pg_schema}".keys') == [(1,)]
    other.close()


def test_a_revoke_in_another_store_is_seen_within_the_bound(pg, pg_schema):
    c = pg.create()
    other = keyhouse.Keyhouse(pg_url(), schema=pg_schema)
    assert other.verify(c.key).is_valid()
    pg.revoke(c.info.id)
    deadline = time.monotonic() + 2
    while other.verify(c.key).outcome is not keyhouse.Outcome.REVOKED:
        assert time.monotonic() < deadline, "revoke not seen within 2 s"
        time.sleep(0.005)
    other.close()


def test_verify_async_answers_cached_keys_inline_and_sends_the_rest_to_a_thread(pg):
    plain = pg.create()
    credits = pg.create(remaining=5)

    async def main():
        assert (await pg.verify_async(plain.key)).is_valid()  # the first one reads the row
        cached = pg.verify_async(plain.key)
        assert cached.done(), "a cached key is answered before the first await"
        assert (await cached).is_valid()
        spent = pg.verify_async(credits.key, cost=2)
        assert not spent.done(), "a spend goes to the database, off the loop"
        assert (await spent).key.remaining == 3
        unknown = keyhouse.generate("kh").key
        assert (await pg.verify_async(unknown)).outcome is keyhouse.Outcome.NOT_FOUND
        assert (await pg.verify_async("nope")).outcome is keyhouse.Outcome.MALFORMED
        with pytest.raises(keyhouse.InvalidArgumentError):
            await pg.verify_async(plain.key, ["files*"])

    asyncio.run(main())


def test_verify_async_works_on_sqlite_too(db_path):
    with keyhouse.Keyhouse(db_path) as kh:
        c = kh.create()

        async def main():
            assert (await kh.verify_async(c.key)).is_valid()
            assert (await kh.verify_async(c.key)).key.usage_count == 2

        asyncio.run(main())


def test_verify_async_needs_a_running_loop_only_to_reach_the_database(kh):
    c = kh.create()
    with pytest.raises(RuntimeError):
        kh.verify_async(c.key)  # the first verify reads the row
    kh.verify(c.key)

    async def cached():
        return await kh.verify_async(c.key)

    assert asyncio.run(cached()).is_valid()


def test_connection_failures_are_store_errors_without_the_password():
    start = time.monotonic()
    with pytest.raises(keyhouse.StoreError) as e:
        keyhouse.Keyhouse("postgres://app:hunter2secret@127.0.0.1:1/db?sslmode=disable", connect_timeout=0.5)
    assert time.monotonic() - start < 3
    assert "hunter2secret" not in str(e.value) and "app:***@" in str(e.value)
    assert e.value.code == "STORE_ERROR"
    bad = pg_url().replace("keyhouse:keyhouse@", "keyhouse:hunter2secret@")
    with pytest.raises(keyhouse.StoreError) as e:
        keyhouse.Keyhouse(bad, connect_timeout=2)
    assert "hunter2secret" not in str(e.value) and "password authentication failed" in str(e.value)


@pytest.mark.parametrize(
    "option",
    [{"schema": "Bad-Name"}, {"schema": "pg_catalog"}, {"pool_size": 0}, {"max_staleness": 0.001}, {"connect_timeout": 0}],
)
def test_bad_postgres_options_are_invalid_arguments(option):
    with pytest.raises(keyhouse.InvalidArgumentError):
        keyhouse.Keyhouse(pg_url(), **option)


def test_the_fastapi_dependency_on_a_postgres_store(pg):
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from keyhouse.fastapi import APIKeyAuth

    app = fastapi.FastAPI()
    auth = APIKeyAuth(pg, permissions=["files:read"])

    @app.get("/files")
    async def files(key: keyhouse.KeyInfo = fastapi.Depends(auth)):
        return {"id": key.id}

    ok = pg.create(permissions=["files:*"], remaining=1)
    client = TestClient(app)
    assert client.get("/files", headers={"X-API-Key": ok.key}).status_code == 200
    assert client.get("/files", headers={"X-API-Key": ok.key}).status_code == 429
    pg.revoke(ok.info.id)
    assert client.get("/files", headers={"X-API-Key": ok.key}).status_code == 401
