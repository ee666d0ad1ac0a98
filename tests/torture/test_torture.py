"""Multi-process torture tests of the SQLite store.

Processes in two languages (worker.py, worker.js), the CLI, the sqlite3
shell and kill -9 work on one database file at once, the way production
does: services start at different times, restart, open and close stores,
and other tools read, checkpoint and back up the file. Each test checks:
no process dies, credits and rate-limit admissions are exact, a revoked,
disabled or deleted key is never VALID after the command returns,
PRAGMA integrity_check is ok, and every key reported as created verifies.

Needs KEYHOUSE_CLI (the keyhouse binary), node with the built addon in
bindings-node, the keyhouse Python package and the sqlite3 shell; it fails
when any is missing.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import keyhouse

HERE = Path(__file__).resolve().parent
CLI = os.environ.get("KEYHOUSE_CLI", "")
NODE = shutil.which("node")
SQLITE3 = shutil.which("sqlite3")


@pytest.fixture(autouse=True)
def tools_present():
    assert CLI and os.access(CLI, os.X_OK), f"KEYHOUSE_CLI must name the keyhouse binary, got {CLI!r}"
    assert NODE, "node is required"
    assert SQLITE3, "the sqlite3 shell is required (apt-get install sqlite3)"


def cli(db, *args, check=True):
    r = subprocess.run([CLI, "--db", str(db), "--json", *args], capture_output=True, text=True)
    assert r.returncode >= 0, f"keyhouse {args} died with signal {-r.returncode}: {r.stderr}"
    if check:
        assert r.returncode == 0, f"keyhouse {args} failed ({r.returncode}): {r.stderr}"
    return r


def create(db, *args):
    return json.loads(cli(db, "create", *args).stdout)


def remaining(db, key_id):
    return json.loads(cli(db, "show", key_id).stdout)["remaining"]


def sql(db, script):
    r = subprocess.run([SQLITE3, str(db)], input=script, capture_output=True, text=True)
    assert r.returncode == 0, f"sqlite3 failed: {r.stderr}"
    return r.stdout


def assert_integrity(db):
    assert sql(db, "PRAGMA integrity_check;").strip() == "ok"


def start(lang, mode, db, keys, deadline, log=None, reopen=0, lease=None):
    env = dict(os.environ, TORTURE_DEADLINE=str(deadline), TORTURE_REOPEN=str(reopen))
    if lease:
        env["TORTURE_LEASE"] = str(lease)
    if log:
        env["TORTURE_LOG"] = str(log)
    exe = [sys.executable, str(HERE / "worker.py")] if lang == "py" else [NODE, str(HERE / "worker.js")]
    return subprocess.Popen([*exe, mode, str(db), *keys], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(procs):
    """Waits for every worker; each must exit 0. Returns their JSON summaries."""
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, f"worker {p.args[1:3]} ended with {p.returncode} (negative: signal): {stderr[-2000:]}"
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def total(summaries, name):
    return sum(s.get(name, 0) for s in summaries)


class CliLoop(threading.Thread):
    """Runs `keyhouse verify KEY` again and again until the deadline."""

    def __init__(self, db, key, deadline):
        super().__init__(daemon=True)
        self.db, self.key, self.deadline = db, key, deadline
        self.valid = self.refused = 0
        self.failures = []

    def run(self):
        while time.time() < self.deadline:
            r = cli(self.db, "verify", self.key, check=False)
            if r.returncode == 0:
                self.valid += 1
            elif r.returncode == 1:
                self.refused += 1
            else:
                self.failures.append((r.returncode, r.stderr))


def shm_locks_held_by(pids, db):
    """The pids that hold a POSIX read lock on byte 128 of the database's -shm
    file: SQLite's sign that a connection uses the WAL-index (its "dead-man
    switch"). A process that lost it lets a later opener rebuild -shm."""
    inode = os.stat(f"{db}-shm").st_ino
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        f = line.split()
        if "->" in f:
            continue
        # "1: POSIX  ADVISORY  READ 1234 fd:01:5678 128 128"
        kind, pid, dev_inode, start, end = f[3], int(f[4]), f[5], f[6], f[7]
        if int(dev_inode.split(":")[-1]) == inode and kind == "READ" and int(start) <= 128 and (end == "EOF" or int(end) >= 128):
            holders.add(pid)
    return holders & set(pids)


def test_staggered_workers_beside_a_cli_loop_spend_exactly(tmp_path):
    db = tmp_path / "staggered.db"
    credits, rate = 4000, 1500
    c = create(db, "--remaining", str(credits))
    r = create(db, "--rate-limit", str(rate), "--rate-window", "366d")
    deadline = time.time() + 10
    loop = CliLoop(db, c["key"], deadline)
    loop.start()
    procs = []
    # Six services start 0.4 s apart while the others already spend.
    for i in range(6):
        procs.append(start("py" if i % 2 == 0 else "node", "spend", db, [c["key"], r["key"]], deadline))
        time.sleep(0.4)
    time.sleep(0.5)
    live = [p.pid for p in procs if p.poll() is None]
    assert shm_locks_held_by(live, db) == set(live), "every live worker must keep SQLite's lock on the WAL-index"
    summaries = finish(procs)
    loop.join()
    assert loop.failures == [], loop.failures[:3]
    spent = total(summaries, "0:VALID") + loop.valid
    assert spent + remaining(db, c["info"]["id"]) == credits
    assert spent > 0 and loop.valid > 0
    assert total(summaries, "1:VALID") == rate, "the rate limit must be used up exactly"
    assert_integrity(db)


def test_stores_opened_and_closed_in_a_loop_beside_spenders(tmp_path):
    db = tmp_path / "churn.db"
    credits = 200_000
    c = create(db, "--remaining", str(credits))
    deadline = time.time() + 8
    spenders = [start(lang, "spend", db, [c["key"]], deadline, reopen=reopen)
                for lang, reopen in [("py", 0), ("node", 0), ("py", 500), ("node", 700)]]
    churners = [start("py", "churn", db, [c["key"]], deadline), start("node", "churn", db, [c["key"]], deadline)]
    summaries = finish(spenders + churners)
    spent = total(summaries, "0:VALID") + total(summaries, "VALID")
    assert spent + remaining(db, c["info"]["id"]) == credits
    assert total(summaries, "VALID") > 10, "the churners must have opened stores many times"
    assert_integrity(db)


@pytest.mark.parametrize("via_symlink", [False, True], ids=["direct", "symlink"])
def test_external_tools_and_commands_never_leave_a_stale_valid(tmp_path, via_symlink):
    (tmp_path / "real").mkdir()
    db = tmp_path / "real" / "app.db"
    keys = [create(db) for _ in range(6)]
    service_db = db
    if via_symlink:
        service_db = tmp_path / "app-link.db"
        service_db.symlink_to(db)
    deadline = time.time() + 9
    logs = [tmp_path / "watch-py.log", tmp_path / "watch-node.log"]
    watchers = [start(lang, "watch", service_db, [k["key"] for k in keys], deadline, log=log)
                for lang, log in zip(["py", "node"], logs)]
    time.sleep(1.0)
    done_at = {}
    actions = [
        ("revoke",), ("update", "--disable"), ("delete",), ("revoke",), ("update", "--disable"), ("delete",),
    ]
    for i, (k, action) in enumerate(zip(keys, actions)):
        # The audit's sequence: the service has the key cached; a command
        # changes it; another tool checkpoints the WAL away; another process
        # opens the database; the service verifies again.
        if i % 2 == 0:
            cli(db, *action[:1], k["info"]["id"], *action[1:])
            done_at[i] = time.time_ns()
            sql(db, "SELECT count(*) FROM keys; PRAGMA wal_checkpoint(TRUNCATE);")
        else:
            sql(db, "SELECT count(*) FROM keys; PRAGMA wal_checkpoint(TRUNCATE);")
            cli(db, *action[:1], k["info"]["id"], *action[1:])
            done_at[i] = time.time_ns()
        cli(service_db, "list")
        sql(db, f".backup '{tmp_path / 'backup.db'}'")
        time.sleep(0.8)
    finish(watchers)
    for log in logs:
        seen_valid_before = set()
        for line in log.read_text().splitlines():
            start_ns, i, outcome = line.split()
            start_ns, i = int(start_ns), int(i)
            if start_ns > done_at[i]:
                assert outcome != "VALID", f"key {i} verified VALID {(start_ns - done_at[i]) / 1e6:.1f} ms after it was changed ({log.name})"
            elif outcome == "VALID":
                seen_valid_before.add(i)
        assert seen_valid_before == set(range(len(keys))), "each key must have verified (and been cached) before its change"
    assert_integrity(db)
    assert_integrity(tmp_path / "backup.db")
    assert sql(tmp_path / "backup.db", "SELECT count(*) FROM keys;").strip() == "4"


def kill_some(procs, victims, rng):
    """SIGKILLs up to `victims` of the live `procs`; returns how many. A
    worker that already died by itself is left for `finish` to report."""
    live = [p for p in procs if p.poll() is None and not p.killed]
    chosen = rng.sample(live, min(victims, len(live)))
    for p in chosen:
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.killed = True
    return len(chosen)


def test_kill_9_during_a_consuming_verify_storm(tmp_path):
    db = tmp_path / "kill-spend.db"
    credits = 100_000
    c = create(db, "--remaining", str(credits))
    rng = random.Random(9)
    deadline = time.time() + 9
    logs = iter(tmp_path / f"spend-{n}.log" for n in range(100))
    procs, killed = [], 0
    for _ in range(4):
        for lang, reopen in [("py", 0), ("node", 400)]:
            p = start(lang, "spendlog", db, [c["key"]], deadline, log=next(logs), reopen=reopen)
            p.killed = False
            procs.append(p)
        time.sleep(1.5)
        killed += kill_some(procs, 2, rng)
    survivors = [p for p in procs if not p.killed]
    finish(survivors)
    logged = sum(log.read_text().count("V\n") for log in tmp_path.glob("spend-*.log"))
    left = remaining(db, c["info"]["id"])
    # A process killed between its commit and its log line may have spent
    # one credit it never reported; nothing else may go missing.
    assert credits - killed <= logged + left <= credits, (logged, left, killed)
    assert logged > 0
    assert_integrity(db)


def test_kill_9_during_a_create_storm(tmp_path):
    db = tmp_path / "kill-create.db"
    cli(db, "list")
    rng = random.Random(7)
    deadline = time.time() + 7
    logs = iter(tmp_path / f"create-{n}.log" for n in range(100))
    procs, killed = [], 0
    for _ in range(3):
        for lang in ["py", "node"]:
            p = start(lang, "create", db, [], deadline, log=next(logs))
            p.killed = False
            procs.append(p)
        time.sleep(1.5)
        killed += kill_some(procs, 2, rng)
    finish([p for p in procs if not p.killed])
    created = []
    for log in tmp_path.glob("create-*.log"):
        # Each key is written with its newline in one write(); a line without
        # one (none is expected) would be cut short by the kill.
        created += log.read_text().split("\n")[:-1]
    assert len(created) > 100
    stored = int(sql(db, "SELECT count(*) FROM keys;"))
    assert len(created) <= stored <= len(created) + killed
    with keyhouse.Keyhouse(str(db)) as kh:
        bad = [k for k in created if kh.verify(k).outcome != "VALID"]
    assert bad == []
    assert_integrity(db)
