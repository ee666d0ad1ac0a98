"""Bad input for every argument: a TypeError or ValueError, never a crash."""

from datetime import datetime, timedelta

import pytest

import keyhouse

HUGE = "k" * (10 * 1024 * 1024)
NOT_STR = [None, b"bytes", 42, 4.2, ["list"], object()]


@pytest.fixture
def key(kh):
    return kh.create(remaining=5)


@pytest.mark.parametrize("bad", NOT_STR, ids=repr)
def test_non_string_keys_are_type_errors(kh, bad):
    for call in (kh.verify, keyhouse.parse, keyhouse.hash_key, lambda k: keyhouse.verify_hash(k, "sha256$" + "0" * 64)):
        with pytest.raises(TypeError):
            call(bad)


@pytest.mark.parametrize("bad", NOT_STR, ids=repr)
def test_non_string_ids_are_type_errors(kh, bad):
    for call in (kh.get, kh.revoke, kh.delete, kh.roll, lambda i: kh.update(i, name="x")):
        with pytest.raises(TypeError):
            call(bad)


@pytest.mark.parametrize("text", ["", "x", "\x00", "é" * 50, "\ud800", HUGE, "kh_" + "A" * 14 + "_" + "B" * 49])
def test_odd_strings_are_malformed_outcomes(kh, text):
    r = kh.verify(text)
    assert r.outcome is keyhouse.Outcome.MALFORMED and r.malformed_reason
    with pytest.raises(keyhouse.MalformedError):
        keyhouse.parse(text)


def test_a_huge_key_is_rejected_as_too_long(kh):
    assert kh.verify(HUGE).malformed_reason == "TOO_LONG"


@pytest.mark.parametrize("bad_id", ["", "short", "x" * 100, "has spaces in!", HUGE])
def test_malformed_ids_are_value_errors(kh, bad_id):
    with pytest.raises(ValueError):
        kh.get(bad_id)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"owner_id": 5}, TypeError),
        ({"owner_id": ""}, ValueError),
        ({"name": b"x"}, TypeError),
        ({"name": "n" * 300}, ValueError),
        ({"prefix": "Bad"}, ValueError),
        ({"prefix": 1}, TypeError),
        ({"expires_in": -1}, ValueError),
        ({"expires_in": float("nan")}, ValueError),
        ({"expires_in": "1h"}, TypeError),
        ({"expires_in": True}, TypeError),
        ({"expires_at": "2030-01-01"}, TypeError),
        ({"expires_at": datetime(2030, 1, 1)}, ValueError),
        ({"expires_in": 10, "expires_at": datetime(2030, 1, 1).astimezone()}, ValueError),
        ({"permissions": "files:read"}, TypeError),
        ({"permissions": [1]}, TypeError),
        ({"permissions": ["has space"]}, ValueError),
        ({"metadata": [1, 2]}, TypeError),
        ({"metadata": {1: "x"}}, TypeError),
        ({"metadata": {"x": object()}}, TypeError),
        ({"metadata": {"x": float("inf")}}, ValueError),
        ({"metadata": {"x": 2**70}}, ValueError),
        ({"metadata": {"x": "y" * 20000}}, ValueError),
        ({"remaining": -1}, ValueError),
        ({"remaining": "5"}, TypeError),
        ({"remaining": 2**70}, ValueError),
        ({"refill": {"amount": 1}}, TypeError),
        ({"rate_limit": (10, 60)}, TypeError),
        ({"unknown": 1}, TypeError),
    ],
    ids=repr,
)
def test_create_arguments(kh, kwargs, error):
    with pytest.raises(error):
        kh.create(**kwargs)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: keyhouse.Refill(-1, 60), ValueError),
        (lambda: keyhouse.Refill(1, -60), ValueError),
        (lambda: keyhouse.Refill("1", 60), TypeError),
        (lambda: keyhouse.RateLimit(-5, 60), ValueError),
        (lambda: keyhouse.RateLimit(5, "60"), TypeError),
        (lambda: keyhouse.Pepper("id", "not bytes"), TypeError),
        (lambda: keyhouse.Pepper("id", b"short"), ValueError),
        (lambda: keyhouse.Pepper("bad id!", b"x" * 32), ValueError),
        (lambda: keyhouse.generate("Bad"), ValueError),
        (lambda: keyhouse.generate("ok", secret_bytes=8), ValueError),
        (lambda: keyhouse.generate("ok", secret_bytes="32"), TypeError),
        (lambda: keyhouse.generate("ok", pepper="p"), TypeError),
        (lambda: keyhouse.verify_hash(keyhouse.generate().key, "md5$abc"), ValueError),
        (lambda: keyhouse.verify_hash(keyhouse.generate().key, "sha256$" + "0" * 64, peppers="p"), TypeError),
    ],
)
def test_value_types(make, error):
    with pytest.raises(error):
        make()


def test_zero_rate_limit_is_refused_at_create(kh):
    with pytest.raises(ValueError):
        kh.create(rate_limit=keyhouse.RateLimit(0, 60))


@pytest.mark.parametrize(
    "args, kwargs, error",
    [
        ((), {"permissions": "a:b"}, TypeError),
        ((), {"permissions": ["a:*"]}, ValueError),
        ((), {"cost": -1}, ValueError),
        ((), {"cost": 2**40}, ValueError),
        ((), {"cost": "1"}, TypeError),
        ((), {"cost": 1.5}, TypeError),
    ],
)
def test_verify_arguments(kh, key, args, kwargs, error):
    with pytest.raises(error):
        kh.verify(key.key, *args, **kwargs)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"enabled": "yes"}, TypeError),
        ({"enabled": None}, TypeError),
        ({"permissions": None}, TypeError),
        ({"metadata": None}, TypeError),
        ({"remaining": -3}, ValueError),
        ({"expires_at": "tomorrow"}, TypeError),
        ({"refill": 5}, TypeError),
        ({"nope": 1}, TypeError),
    ],
    ids=repr,
)
def test_update_arguments(kh, key, kwargs, error):
    with pytest.raises(error):
        kh.update(key.info.id, **kwargs)
    assert kh.get(key.info.id) == key.info


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"limit": 0}, ValueError),
        ({"limit": 5000}, ValueError),
        ({"limit": "10"}, TypeError),
        ({"cursor": "garbage"}, ValueError),
        ({"cursor": 7}, TypeError),
        ({"owner_id": 7}, TypeError),
        ({"include_revoked": 1}, TypeError),
    ],
    ids=repr,
)
def test_list_arguments(kh, kwargs, error):
    with pytest.raises(error):
        kh.list(**kwargs)


def test_roll_grace(kh, key):
    with pytest.raises(ValueError):
        kh.roll(key.info.id, grace=timedelta(seconds=-1))
    with pytest.raises(TypeError):
        kh.roll(key.info.id, grace="1h")


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"secret_bytes": 4}, ValueError),
        ({"default_prefix": 7}, TypeError),
        ({"default_permissions": "r"}, TypeError),
        ({"max_keys_per_owner": 0}, ValueError),
        ({"verify_cache_size": -1}, ValueError),
        ({"verify_cache_size": 10**8}, ValueError),
        ({"min_expiry": 10, "max_expiry": 5}, ValueError),
        ({"pepper": b"x" * 32}, TypeError),
        ({"previous_peppers": [None]}, TypeError),
        ({"busy_timeout": -1}, ValueError),
        ({"frobnicate": True}, TypeError),
    ],
    ids=repr,
)
def test_config_arguments(kwargs, error):
    with pytest.raises(error):
        keyhouse.Keyhouse(":memory:", **kwargs)


def test_none_in_config_means_the_default():
    # The same rule as null and undefined in the Node binding.
    names = ["default_prefix", "secret_bytes", "pepper", "previous_peppers", "default_permissions", "default_expiry",
             "min_expiry", "max_expiry", "max_keys_per_owner", "usage_flush_interval", "busy_timeout"]
    with keyhouse.Keyhouse(":memory:", **{n: None for n in names}) as kh:
        assert kh.create().key.startswith("kh_")


def test_times_past_year_9999_are_refused_not_overflowed():
    import datetime as dt

    with keyhouse.Keyhouse(":memory:") as kh:
        for kwargs in [{"expires_in": dt.timedelta.max}, {"expires_in": dt.timedelta(days=3_000_000)}]:
            with pytest.raises(keyhouse.InvalidArgumentError):
                kh.create(**kwargs)
        last = dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.timezone.utc)
        created = kh.create(expires_at=last)
        assert kh.get(created.info.id).expires_at == last


def test_a_key_passed_as_an_id_is_not_echoed():
    with keyhouse.Keyhouse(":memory:") as kh:
        key = kh.create().key
        secret = key.rsplit("_", 1)[1]
        for call in [kh.get, kh.revoke, kh.delete, kh.roll, lambda v: kh.update(v, name="x")]:
            with pytest.raises(keyhouse.InvalidArgumentError) as e:
                call(key)
            assert secret[:8] not in str(e.value) and "looks like a key" in str(e.value)
        assert kh.verify(key).outcome == "VALID"


@pytest.mark.parametrize("path", [None, 42, b"\x00"])
def test_bad_paths(path):
    with pytest.raises((TypeError, ValueError)):
        keyhouse.Keyhouse(path)


def test_unopenable_path_is_a_store_error(tmp_path):
    with pytest.raises(keyhouse.StoreError):
        keyhouse.Keyhouse(tmp_path / "missing" / "dir" / "k.db")
