"""Processes in two languages sharing one PostgreSQL store.

Python and Node workers (worker.py, worker.js), the CLI and kill -9 on one
schema, as app servers behind a load balancer would: they start at
different times, restart, and get killed. Each test checks exact credits
and rate-limit admissions, or how fast a revoke reaches every process.

Needs KEYHOUSE_TEST_PG (make test starts the server), KEYHOUSE_CLI, node
with the built addon and the keyhouse Python package; fails without them.
"""

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

import keyhouse
from test_torture import NODE, CLI, HERE, finish, total

PG = os.environ.get("KEYHOUSE_TEST_PG", "")


@pytest.fixture(autouse=True)
def tools_present():
    assert PG, "KEYHOUSE_TEST_PG is not set: the PostgreSQL tests need a server (make test starts one)"
    assert CLI and os.access(CLI, os.X_OK), f"KEYHOUSE_CLI must name the keyhouse binary, got {CLI!r}"
    assert NODE, "node is required"


@pytest.fixture
def schema():
    name = f"torture_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def cli(schema, *args, check=True):
    env = dict(os.environ, KEYHOUSE_SCHEMA=schema)
    r = subprocess.run([CLI, "--db", PG, "--json", *args], capture_output=True, text=True, env=env)
    assert r.returncode >= 0, f"keyhouse {args} died with signal {-r.returncode}: {r.stderr}"
    if check:
        assert r.returncode == 0, f"keyhouse {args} failed ({r.returncode}): {r.stderr}"
    return r


def start(lang, mode, schema, keys, deadline, log=None, reopen=0, lease=None):
    env = dict(os.environ, TORTURE_DEADLINE=str(deadline), TORTURE_REOPEN=str(reopen), TORTURE_SCHEMA=schema)
    if lease:
        env["TORTURE_LEASE"] = str(lease)
    if log:
        env["TORTURE_LOG"] = str(log)
    exe = [sys.executable, str(HERE / "worker.py")] if lang == "py" else [NODE, str(HERE / "worker.js")]
    return subprocess.Popen([*exe, mode, PG, *keys], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_staggered_processes_in_two_languages_spend_exactly(schema):
    credits = json.loads(cli(schema, "create", "--remaining", "2000").stdout)
    # A window of a day: within the test, the GCRA allowance is exactly the burst.
    limited = json.loads(cli(schema, "create", "--rate-limit", "500", "--rate-window", "1d").stdout)
    keys = [credits["key"], limited["key"]]
    deadline = time.time() + 6
    procs = []
    # Started 0.4 s apart, as app servers come up; two restart as they go.
    for i, (lang, reopen) in enumerate([("py", 0), ("node", 0), ("py", 300), ("node", 300)]):
        procs.append(start(lang, "spend", schema, keys, deadline, reopen=reopen))
        time.sleep(0.4)
    cli_valid = 0
    while time.time() < deadline - 0.5:
        cli_valid += cli(schema, "verify", credits["key"], check=False).returncode == 0
    summaries = finish(procs)
    valid = total(summaries, "0:VALID") + cli_valid
    refused = total(summaries, "0:USAGE_EXCEEDED")
    admitted = total(summaries, "1:VALID")
    print(f"credits: {valid} VALID ({cli_valid} by the CLI), {refused} refused; rate limit: {admitted} admitted")
    assert valid == 2000 and refused > 0, summaries
    assert admitted == 500 and total(summaries, "1:RATE_LIMITED") > 0, summaries
    assert json.loads(cli(schema, "show", credits["info"]["id"]).stdout)["remaining"] == 0


def test_kill_9_during_spends_never_loses_a_recorded_credit(schema, tmp_path):
    credits = json.loads(cli(schema, "create", "--remaining", "100000").stdout)
    log = tmp_path / "valid.log"
    deadline = time.time() + 5
    procs = [start(lang, "spendlog", schema, [credits["key"]], deadline, log=log) for lang in ["py", "node"] * 2]
    rng = random.Random(7)
    time.sleep(1.5)
    victims = rng.sample(procs, 2)
    for p in victims:
        p.send_signal(signal.SIGKILL)
    time.sleep(0.5)
    # The survivors and a restarted pair go on.
    procs += [start(lang, "spendlog", schema, [credits["key"]], deadline, log=log) for lang in ["py", "node"]]
    survivors = [p for p in procs if p not in victims]
    finish(survivors)
    for p in victims:
        p.wait()
        assert p.returncode == -signal.SIGKILL
    logged = log.read_text().count("V\n")
    spent = 100000 - json.loads(cli(schema, "show", credits["info"]["id"]).stdout)["remaining"]
    print(f"{logged} VALID logged, {spent} credits spent, {len(victims)} processes killed")
    # Every VALID a process saw was recorded; at most one spend per killed
    # process was recorded without its VALID reaching the log.
    assert logged <= spent <= logged + len(victims)


class Watcher:
    """A worker that verifies keys in a loop and logs each outcome with its start time."""

    def __init__(self, lang, schema, keys, deadline, log):
        self.log = log
        self.proc = start(lang, "watch", schema, keys, deadline, log=log)

    def first(self, index, outcome, after_ns):
        """When the first verify of key `index` started after `after_ns` with `outcome`."""
        for line in self.log.read_text().splitlines():
            t, i, o = line.split()
            if int(i) == index and o == outcome and int(t) >= after_ns:
                return int(t)
        return None

    def last_valid(self, index):
        starts = [int(t) for t, i, o in (l.split() for l in self.log.read_text().splitlines()) if int(i) == index and o == "VALID"]
        return max(starts, default=None)


def test_a_revoke_in_one_process_reaches_python_and_node_processes_fast(schema, tmp_path):
    n = 12
    created = [json.loads(cli(schema, "create").stdout) for _ in range(n)]
    keys = [c["key"] for c in created]
    deadline = time.time() + 4 + n * 0.25
    watchers = [Watcher(lang, schema, keys, deadline, tmp_path / f"{lang}.log") for lang in ("py", "node")]
    time.sleep(2)  # both watchers are up and have every key cached
    admin = keyhouse.Keyhouse(PG, schema=schema)
    done = []
    for c in created:
        admin.revoke(c["info"]["id"])
        done.append(time.time_ns())
        time.sleep(0.25)
    admin.close()
    finish([w.proc for w in watchers])
    for w in watchers:
        lags = []
        for i, t in enumerate(done):
            last = w.last_valid(i)
            assert last is not None, f"{w.log.name}: key {i} never verified VALID"
            # A verify that started after the revoke returned and still said
            # VALID: how stale that process was.
            first_revoked = w.first(i, "REVOKED", t)
            assert first_revoked is not None, f"{w.log.name}: key {i} never seen REVOKED"
            lags.append(max(last - t, first_revoked - t, 0) / 1e6)
        lags.sort()
        p50, p99 = statistics.median(lags), lags[-1]
        print(f"{w.log.name}: revoke seen after p50 {p50:.1f} ms, max {p99:.1f} ms over {n} revokes")
        assert p99 < 1000 + 200, f"past max_staleness (1 s): {lags}"


def test_the_cli_migrates_and_copies_a_sqlite_file_into_postgres(schema, tmp_path):
    migrated = cli(schema, "migrate")
    assert "up to date" in migrated.stdout or "migrated" in migrated.stdout
    db = tmp_path / "old.db"
    made = json.loads(subprocess.run([CLI, "--db", str(db), "--json", "create", "--remaining", "5"], capture_output=True, text=True, check=True).stdout)
    subprocess.run([CLI, "--db", str(db), "verify", made["key"]], capture_output=True, check=True)
    env = dict(os.environ, KEYHOUSE_SCHEMA=schema)
    for expect in ({"copied": 1, "skipped": 0}, {"copied": 0, "skipped": 1}):
        r = subprocess.run([CLI, "--json", "copy", "--from", str(db), "--to", PG], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == expect
    # The key made on SQLite verifies on PostgreSQL, from Python and Node.
    with keyhouse.Keyhouse(PG, schema=schema) as kh:
        assert kh.verify(made["key"]).key.remaining == 3
    node = subprocess.run(
        [NODE, "-e", f"const k = require({json.dumps(str(HERE.parent.parent / 'bindings-node'))}).Keyhouse.open(process.argv[1], {{ schema: process.argv[2] }}); console.log(k.verifySync(process.argv[3]).key.remaining)", PG, schema, made["key"]],
        capture_output=True, text=True,
    )
    assert node.stdout.strip() == "2", node.stderr
