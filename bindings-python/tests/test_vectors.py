"""The cross-language conformance vectors, run through the Python binding.

The tests marked `seams` need the test seams (a settable clock, fixed
randomness), which only a build with the `test-seams` feature has: make test
runs them against such a build, and the rest against the wheel.
"""

from datetime import datetime, timedelta, timezone

import pytest

import keyhouse
from keyhouse import _native
from conftest import pg_url, read_vectors

FORMAT = read_vectors("format.json")
PARSE = read_vectors("parse.json")
SCENARIOS = read_vectors("scenarios.json")
OUTCOMES = read_vectors("outcomes.json")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_regex_matches_the_vectors():
    assert keyhouse.KEY_REGEX == FORMAT["key_regex"]


@pytest.mark.seams
@pytest.mark.parametrize("v", FORMAT["vectors"], ids=lambda v: v["prefix"])
def test_format(v):
    pepper = keyhouse.Pepper(FORMAT["pepper"]["id"], bytes.fromhex(FORMAT["pepper"]["secret"]))
    random = bytes.fromhex(v["id_bytes"]) + bytes.fromhex(v["secret_bytes"])
    n = len(bytes.fromhex(v["secret_bytes"]))
    g = _native._generate_from_bytes(v["prefix"], random, n)
    assert (g.key, g.id, g.prefix, g.hash) == (v["key"], v["id"], v["prefix"], v["hash"])
    assert _native._generate_from_bytes(v["prefix"], random, n, pepper).hash == v["hash_with_pepper"]
    assert keyhouse.hash_key(v["key"]) == v["hash"]
    assert keyhouse.hash_key(v["key"], pepper) == v["hash_with_pepper"]
    assert keyhouse.verify_hash(v["key"], v["hash_with_pepper"], [pepper])
    parsed = keyhouse.parse(v["key"])
    assert (parsed.prefix, parsed.id) == (v["prefix"], v["id"])


def test_outcomes_have_the_core_s_http_status():
    assert {v["outcome"] for v in OUTCOMES["outcomes"]} == {o.value for o in keyhouse.Outcome}
    for v in OUTCOMES["outcomes"]:
        assert keyhouse.Outcome(v["outcome"]).http_status == v["http_status"]


def test_parse_has_enough_vectors():
    assert len(PARSE["vectors"]) >= 40


@pytest.mark.parametrize("v", PARSE["vectors"], ids=lambda v: v["name"])
def test_parse(v):
    if v["expect"] == "VALID":
        p = keyhouse.parse(v["input"])
        assert (p.prefix, p.id) == (v["prefix"], v["id"])
    else:
        with pytest.raises(keyhouse.MalformedError) as e:
            keyhouse.parse(v["input"])
        assert e.value.reason == v["expect"]
        assert e.value.code == "MALFORMED"


class Runner:
    """Replays one scenario against a store at fixed clock times."""

    def __init__(self, scenario, start, path, **extra):
        self.start = start
        self.clock = _native._TestClock(start)
        config = {**self.config(scenario.get("config", {})), **extra}
        self.kh = _native._open_with_clock(path, self.clock, **config)
        self.keys = {}

    @staticmethod
    def config(c):
        ms = lambda k: timedelta(milliseconds=c[k]) if k in c else None  # noqa: E731
        return {
            "max_keys_per_owner": c.get("max_keys_per_owner"),
            "default_permissions": c.get("default_permissions", []),
            "default_expiry": ms("default_expiry_ms"),
            "min_expiry": ms("min_expiry_ms"),
            "max_expiry": ms("max_expiry_ms"),
        }

    def at(self, offset):
        return None if offset is None else EPOCH + timedelta(milliseconds=self.start + offset)

    def offset(self, t):
        return None if t is None else (t - EPOCH) // timedelta(milliseconds=1) - self.start

    def key_text(self, ref):
        return ref[len("literal:"):] if ref.startswith("literal:") else self.keys[ref][0]

    def key_id(self, ref):
        return ref[len("literal:"):] if ref.startswith("literal:") else self.keys[ref][1]

    def info(self, i):
        return {
            "id": i.id, "prefix": i.prefix, "owner_id": i.owner_id, "name": i.name,
            "permissions": i.permissions, "metadata": i.metadata, "enabled": i.enabled,
            "created_at": self.offset(i.created_at), "expires_at": self.offset(i.expires_at),
            "revoked_at": self.offset(i.revoked_at), "last_refill_at": self.offset(i.last_refill_at),
            "remaining": i.remaining, "usage_count": i.usage_count,
        }

    def create_options(self, o):
        out = {k: o[k] for k in ("owner_id", "name", "prefix", "permissions", "metadata", "remaining") if k in o}
        if "expires_in_ms" in o:
            out["expires_in"] = timedelta(milliseconds=o["expires_in_ms"])
        if "expires_at" in o:
            out["expires_at"] = self.at(o["expires_at"])
        if "refill" in o:
            out["refill"] = refill(o["refill"])
        if "rate_limit" in o:
            out["rate_limit"] = rate_limit(o["rate_limit"])
        return out

    def update_options(self, o):
        out = {k: o[k] for k in ("name", "enabled", "permissions", "metadata", "remaining") if k in o}
        if "expires_at" in o:
            out["expires_at"] = self.at(o["expires_at"])
        if "refill" in o:
            out["refill"] = None if o["refill"] is None else refill(o["refill"])
        if "rate_limit" in o:
            out["rate_limit"] = None if o["rate_limit"] is None else rate_limit(o["rate_limit"])
        return out

    def step(self, s):
        op, ref = s["op"], s.get("key", "")
        if op in ("create", "roll"):
            if op == "create":
                created = self.kh.create(**self.create_options(s["options"]))
            else:
                created = self.kh.roll(self.key_id(ref), timedelta(milliseconds=s["grace_ms"]))
            if "save_as" in s:
                self.keys[s["save_as"]] = (created.key, created.info.id)
            return self.info(created.info)
        if op == "verify":
            r = self.kh.verify(self.key_text(ref), s.get("permissions", []), s.get("cost", 1))
            return {
                "outcome": r.outcome.value,
                "malformed_reason": r.malformed_reason,
                "retry_after_ms": None if r.retry_after is None else r.retry_after // timedelta(milliseconds=1),
                "rate_limit_remaining": None if r.rate_limit is None else r.rate_limit.remaining,
                "remaining": None if r.key is None else r.key.remaining,
            }
        if op == "get":
            return self.info(self.kh.get(self.key_id(ref)))
        if op == "update":
            return self.info(self.kh.update(self.key_id(ref), **self.update_options(s["options"])))
        if op == "revoke":
            return self.info(self.kh.revoke(self.key_id(ref)))
        if op == "delete":
            self.kh.delete(self.key_id(ref))
            return {}
        if op == "purge_expired":
            return {"purged": self.kh.purge_expired()}
        raise AssertionError(f"unknown op {op}")

    def run(self, scenario):
        for n, s in enumerate(scenario["steps"]):
            ctx = f"{scenario['name']} step {n} ({s['op']})"
            self.clock.set(self.start + s["at"])
            expect = s.get("expect", {})
            try:
                got = self.step(s)
            except keyhouse.KeyhouseError as e:
                assert expect.get("error") == e.code, f"{ctx}: {e}"
                continue
            assert "error" not in expect, f"{ctx}: expected {expect['error']}, got {got}"
            for field, want in expect.items():
                assert got.get(field) == want, f"{ctx}: {field} is {got.get(field)!r}, want {want!r}"
        self.kh.close()


def refill(r):
    return keyhouse.Refill(r["amount"], timedelta(milliseconds=r["interval_ms"]))


def rate_limit(r):
    return keyhouse.RateLimit(r["limit"], timedelta(milliseconds=r["window_ms"]))


@pytest.mark.seams
@pytest.mark.parametrize("scenario", SCENARIOS["scenarios"], ids=lambda s: s["name"])
@pytest.mark.parametrize("where", ["memory", "file", "postgres"])
def test_scenario(scenario, where, tmp_path, request):
    if where == "postgres":
        schema = request.getfixturevalue("pg_schema")
        Runner(scenario, SCENARIOS["start"], pg_url(), schema=schema).run(scenario)
        return
    path = ":memory:" if where == "memory" else str(tmp_path / "scenario.db")
    Runner(scenario, SCENARIOS["start"], path).run(scenario)
