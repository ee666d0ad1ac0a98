"""Leased mode across processes: Python and Node workers lease credits and
rate-limit slots from one store (a SQLite file, and a PostgreSQL schema)
beside an exact-mode CLI, restart, and get killed with kill -9.

Each test checks the guarantee of leased mode: never more admitted than the
limits allow, and, for credits, every credit accounted for once every
process has closed cleanly (a killed process's lease is lost, never spent).

Needs what test_torture.py and test_postgres.py need; fails without it.
"""

import json
import os
import random
import signal
import threading
import time
import uuid

import psycopg
import pytest

import keyhouse
import test_postgres as pg
import test_torture as sq
from test_torture import finish, total


class Store:
    """One database and the commands that reach it, for either backend."""

    def __init__(self, backend, tmp_path):
        self.backend = backend
        self.db = tmp_path / "leases.db"
        self.schema = f"leases_{os.getpid()}_{uuid.uuid4().hex[:10]}"

    def cli(self, *args, check=True):
        if self.backend == "sqlite":
            return sq.cli(self.db, *args, check=check)
        return pg.cli(self.schema, *args, check=check)

    def start(self, lang, mode, keys, deadline, **kw):
        if self.backend == "sqlite":
            return sq.start(lang, mode, self.db, keys, deadline, **kw)
        return pg.start(lang, mode, self.schema, keys, deadline, **kw)

    def create(self, *args):
        return json.loads(self.cli("create", *args).stdout)

    def remaining(self, key_id):
        return json.loads(self.cli("show", key_id).stdout)["remaining"]

    def spend_rest(self, key):
        """Verifies `key` in exact mode until it is refused; how many were VALID."""
        if self.backend == "sqlite":
            kh = keyhouse.Keyhouse(str(self.db))
        else:
            kh = keyhouse.Keyhouse(pg.PG, schema=self.schema)
        n = 0
        while kh.verify(key).is_valid():
            n += 1
        kh.close()
        return n


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    assert sq.CLI and os.access(sq.CLI, os.X_OK), f"KEYHOUSE_CLI must name the keyhouse binary, got {sq.CLI!r}"
    assert sq.NODE, "node is required"
    s = Store(request.param, tmp_path)
    if request.param == "postgres":
        assert pg.PG, "KEYHOUSE_TEST_PG is not set: the PostgreSQL tests need a server (make test starts one)"
    yield s
    if request.param == "postgres":
        with psycopg.connect(pg.PG, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{s.schema}" CASCADE')


def test_leased_credits_in_two_languages_are_never_over_spent(store):
    credits = 100_000
    c = store.create("--remaining", str(credits))
    deadline = time.time() + 5
    cli_valid = []

    def cli_loop():
        # An exact-mode process spending beside the leased ones throughout.
        while time.time() < deadline - 0.5:
            cli_valid.append(store.cli("verify", c["key"], check=False).returncode == 0)

    loop = threading.Thread(target=cli_loop)
    loop.start()
    procs = []
    # Started 0.3 s apart; two restart as they go, giving their leases back.
    for lang, reopen in [("py", 0), ("node", 0), ("py", 3000), ("node", 3000)]:
        procs.append(store.start(lang, "spend", [c["key"]], deadline, reopen=reopen, lease=32))
        time.sleep(0.3)
    summaries = finish(procs)
    loop.join()
    valid = total(summaries, "0:VALID") + sum(cli_valid)
    left = store.remaining(c["info"]["id"])
    rest = store.spend_rest(c["key"])
    print(f"{valid} VALID ({sum(cli_valid)} by the exact CLI), {left} left after every worker closed, {rest} spent after")
    assert valid <= credits
    assert sum(cli_valid) > 0 and valid > credits // 10, "both modes must have spent"
    assert rest == left and valid + rest == credits, "closed workers give every unspent credit back"


def within_gcra(spans, limit, window_ms):
    """Whether admissions whose decisions fell within the (start, end) ns
    spans can be ones GCRA admits: any set of them lies within [earliest
    start, latest end], and GCRA admits at most limit + that length / T."""
    spans = sorted((s // 1_000_000, e // 1_000_000) for s, e in spans)
    for i in range(len(spans)):
        latest_end = spans[i][1]
        for j in range(i, len(spans)):
            latest_end = max(latest_end, spans[j][1])
            allowed = limit + (latest_end - spans[i][0]) * limit // window_ms
            if j - i + 1 > allowed:
                return f"{j - i + 1} admitted within {latest_end - spans[i][0]} ms, GCRA allows {allowed}"
    return None


def test_the_gcra_check_catches_a_double_burst():
    ms = 1_000_000
    assert within_gcra([(0, ms)] * 10, 10, 1000) is None
    assert within_gcra([(0, ms)] * 10 + [(400 * ms, 401 * ms)] * 4, 10, 1000) is None
    assert within_gcra([(0, ms)] * 10 + [(400 * ms, 401 * ms)] * 5, 10, 1000) is not None


def test_leased_rate_limits_in_two_languages_stay_within_gcra(store, tmp_path):
    limit, window_ms = 100, 1000
    r = store.create("--rate-limit", str(limit), "--rate-window", "1s")
    deadline = time.time() + 5
    logs = [tmp_path / f"rate-{n}.log" for n in range(4)]
    procs = []
    for (lang, reopen), log in zip([("py", 0), ("node", 0), ("py", 400), ("node", 400)], logs):
        procs.append(store.start(lang, "ratelog", [r["key"]], deadline, log=log, reopen=reopen, lease=16))
        time.sleep(0.3)
    finish(procs)
    spans = [tuple(map(int, line.split())) for log in logs for line in log.read_text().splitlines()]
    span_ms = (max(e for _, e in spans) - min(s for s, _ in spans)) / 1e6
    allowance = limit + span_ms * limit / window_ms
    print(f"{len(spans)} admitted in {span_ms:.0f} ms; GCRA allows up to {allowance:.0f}")
    assert within_gcra(spans, limit, window_ms) is None, within_gcra(spans, limit, window_ms)
    assert len(spans) >= allowance / 2, "leases may refuse early, but not most of the allowance"


def test_kill_9_of_processes_holding_leases_never_over_spends(store, tmp_path):
    # More credits than the workers can spend: the killed ones hold leases.
    credits = 50_000_000
    c = store.create("--remaining", str(credits))
    deadline = time.time() + 5
    rng = random.Random(5)
    procs = [store.start(lang, "spendlog", [c["key"]], deadline, log=tmp_path / f"v-{n}.log", lease=64)
             for n, lang in enumerate(["py", "node", "py", "node"])]
    time.sleep(1.5)
    victims = rng.sample(procs, 2)
    for p in victims:
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert p.returncode == -signal.SIGKILL
    # Two replacements start while the survivors go on.
    procs += [store.start(lang, "spendlog", [c["key"]], deadline, log=tmp_path / f"v-{n}.log", lease=64)
              for n, lang in [(4, "py"), (5, "node")]]
    finish([p for p in procs if p not in victims])
    logged = sum(log.read_text().count("V\n") for log in tmp_path.glob("v-*.log"))
    left = store.remaining(c["info"]["id"])
    lost = credits - logged - left
    print(f"{logged} VALID logged, {left} left, {lost} lost with the killed processes")
    assert logged > 10_000
    # A killed process's lease (at most 64 credits, counting one admitted
    # but not logged) is lost, never spent twice.
    assert 0 <= lost <= 2 * 64
