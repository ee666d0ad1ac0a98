"""The Keyhouse store through Python: every method and its types."""

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

import keyhouse
from keyhouse import Outcome


def test_create_returns_the_key_once_with_typed_info(kh):
    c = kh.create(
        owner_id="team-1",
        name="deploy",
        prefix="acme_live",
        expires_in=timedelta(days=1),
        permissions=["files:*"],
        metadata={"plan": "pro", "seats": 5, "tags": ["a", "b"], "nested": {"x": None}},
        remaining=10,
        refill=keyhouse.Refill(10, timedelta(hours=1)),
        rate_limit=keyhouse.RateLimit(100, 60),
    )
    info = c.info
    assert c.key.startswith("acme_live_") and info.id in c.key
    assert c.key not in repr(c)
    assert info.owner_id == "team-1" and info.name == "deploy"
    assert info.metadata == {"plan": "pro", "seats": 5, "tags": ["a", "b"], "nested": {"x": None}}
    assert info.created_at.tzinfo is not None
    assert info.expires_at - info.created_at == timedelta(days=1)
    assert info.refill == keyhouse.Refill(10, 3600)
    assert info.rate_limit.window == timedelta(minutes=1)
    assert kh.get(info.id) == info


def test_verify_outcomes(kh):
    c = kh.create(permissions=["files:read"], remaining=1)
    r = kh.verify(c.key, ["files:read"])
    assert r.outcome is Outcome.VALID and r.outcome == "VALID" and r.is_valid()
    assert r.key.remaining == 0 and r.key.usage_count == 1
    assert kh.verify(c.key).outcome is Outcome.USAGE_EXCEEDED
    assert kh.verify(c.key, ["files:write"]).outcome is Outcome.INSUFFICIENT_PERMISSIONS
    assert kh.verify(c.key[:-1] + ("A" if c.key[-1] != "A" else "B")).malformed_reason == "CHECKSUM_MISMATCH"
    assert kh.verify(keyhouse.generate().key).outcome is Outcome.NOT_FOUND
    kh.revoke(c.info.id)
    r = kh.verify(c.key)
    assert r.outcome is Outcome.REVOKED and r.key.revoked_at is not None


def test_rate_limited_has_retry_after(kh):
    c = kh.create(rate_limit=keyhouse.RateLimit(1, timedelta(seconds=30)))
    assert kh.verify(c.key).rate_limit.remaining == 0
    r = kh.verify(c.key)
    assert r.outcome is Outcome.RATE_LIMITED
    assert timedelta(seconds=29) < r.retry_after <= timedelta(seconds=30)
    assert r.rate_limit.reset_at > datetime.now(timezone.utc)


def test_expires_at_must_be_aware(kh):
    at = datetime.now(timezone.utc) + timedelta(hours=1)
    assert kh.create(expires_at=at).info.expires_at == at.replace(microsecond=at.microsecond // 1000 * 1000)
    with pytest.raises(keyhouse.InvalidArgumentError):
        kh.create(expires_at=datetime.now() + timedelta(hours=1))


def test_list_paginates_and_filters(kh):
    ids = [kh.create(owner_id="a" if i % 2 else "b").info.id for i in range(7)]
    seen, cursor = [], None
    while True:
        page = kh.list(limit=3, cursor=cursor)
        assert len(page) <= 3
        seen += [k.id for k in page.keys]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert all(k.owner_id == "a" for k in kh.list(owner_id="a").keys)
    kh.revoke(ids[0])
    assert ids[0] not in [k.id for k in kh.list().keys]
    assert ids[0] in [k.id for k in kh.list(include_revoked=True).keys]


def test_update_sets_and_clears(kh):
    c = kh.create(name="old", remaining=5, rate_limit=keyhouse.RateLimit(5, 1))
    i = kh.update(c.info.id, name=None, remaining=None, rate_limit=None, enabled=False, metadata={"k": 1})
    assert (i.name, i.remaining, i.rate_limit, i.enabled, i.metadata) == (None, None, None, False, {"k": 1})
    assert kh.verify(c.key).outcome is Outcome.DISABLED
    i = kh.update(c.info.id, enabled=True, permissions=["a:b"], expires_at=datetime.now(timezone.utc) + timedelta(days=1))
    assert i.enabled and i.permissions == ["a:b"] and i.expires_at is not None
    assert kh.update(c.info.id, expires_at=None).expires_at is None


def test_roll_delete_purge(kh):
    c = kh.create(name="k", expires_in=3600)
    new = kh.roll(c.info.id, grace=0)
    assert new.info.name == "k" and new.key != c.key
    assert kh.verify(c.key).outcome is Outcome.EXPIRED
    assert kh.verify(new.key).is_valid()
    assert kh.purge_expired() == 1
    with pytest.raises(keyhouse.NotFoundError) as e:
        kh.get(c.info.id)
    assert e.value.code == "NOT_FOUND" and isinstance(e.value, LookupError)
    kh.delete(new.info.id)
    with pytest.raises(keyhouse.NotFoundError):
        kh.delete(new.info.id)


def test_create_many_is_atomic(kh):
    made = kh.create_many([{"owner_id": "x"}, {"name": "two", "permissions": ["a:b"]}])
    assert [m.info.name for m in made] == [None, "two"]
    with pytest.raises(keyhouse.InvalidArgumentError):
        kh.create_many([{"owner_id": "y"}, {"prefix": "BAD"}])
    assert len(kh.list(owner_id="y")) == 0


def test_owner_limit():
    with keyhouse.Keyhouse(":memory:", max_keys_per_owner=1) as kh:
        kh.create(owner_id="o")
        with pytest.raises(keyhouse.KeyLimitExceededError) as e:
            kh.create(owner_id="o")
        assert e.value.code == "KEY_LIMIT_EXCEEDED"


def test_context_manager_flushes_and_closes(db_path):
    with keyhouse.Keyhouse(db_path, usage_flush_interval=3600) as kh:
        c = kh.create()
        for _ in range(5):
            kh.verify(c.key)
        with sqlite3.connect(db_path) as raw:
            assert raw.execute("SELECT usage_count FROM key_state").fetchone() == (0,)
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT usage_count FROM key_state").fetchone() == (5,)
    with pytest.raises(keyhouse.ClosedError):
        kh.get(c.info.id)
    kh.close()


def test_pepper_config_and_rotation(db_path):
    p1, p2 = keyhouse.Pepper("p1", b"1" * 32), keyhouse.Pepper("p2", b"2" * 32)
    with keyhouse.Keyhouse(db_path, pepper=p1) as kh:
        c = kh.create()
    with keyhouse.Keyhouse(db_path, pepper=p2, previous_peppers=[p1]) as kh:
        assert kh.verify(c.key).is_valid()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT hash FROM keys").fetchone()[0].startswith("hmac-sha256$p2$")


def test_rehash_on_verify_can_be_turned_off(db_path):
    p1, p2 = keyhouse.Pepper("p1", b"1" * 32), keyhouse.Pepper("p2", b"2" * 32)
    with keyhouse.Keyhouse(db_path, pepper=p1) as kh:
        c = kh.create()
    with keyhouse.Keyhouse(db_path, pepper=p2, previous_peppers=[p1], rehash_on_verify=False) as kh:
        assert kh.verify(c.key).is_valid()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT hash FROM keys").fetchone()[0].startswith("hmac-sha256$p1$")
    with pytest.raises(TypeError):
        keyhouse.Keyhouse(":memory:", rehash_on_verify="no")


def test_config_defaults_apply():
    with keyhouse.Keyhouse(":memory:", default_prefix="svc", default_permissions=["r"], default_expiry=60) as kh:
        info = kh.create().info
        assert info.prefix == "svc" and info.permissions == ["r"]
        assert info.expires_at - info.created_at == timedelta(seconds=60)


def test_schema_too_new(db_path):
    keyhouse.Keyhouse(db_path).close()
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {keyhouse.SCHEMA_VERSION + 1}")
    with pytest.raises(keyhouse.SchemaTooNewError):
        keyhouse.Keyhouse(db_path)


def test_lease_size_leases_credits_and_gives_them_back_on_close(db_path):
    with keyhouse.Keyhouse(db_path) as admin:
        c = admin.create(remaining=100)
        leased = keyhouse.Keyhouse(db_path, lease_size=10, lease_idle=30)
        assert leased.verify(c.key).key.remaining == 99
        # Nine more are leased out of the store, and spent from memory.
        assert admin.get(c.info.id).remaining == 90
        assert [leased.verify(c.key).key.remaining for _ in range(9)] == list(range(98, 89, -1))
        assert leased.verify(c.key).key.remaining == 89
        leased.close()
        assert admin.get(c.info.id).remaining == 89
    for bad in [{"lease_size": 0}, {"lease_size": 100_001}, {"lease_idle": 0.001}]:
        with pytest.raises(keyhouse.InvalidArgumentError):
            keyhouse.Keyhouse(":memory:", **bad)
