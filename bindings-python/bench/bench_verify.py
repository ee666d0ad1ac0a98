"""Keyhouse.verify against a hand-written pure-Python baseline, in one run.

    python bindings-python/bench/bench_verify.py [--keys N]

The baseline does the least a Python service would: hashlib.sha256 of the
key, a sqlite3 SELECT of the stored hash by id, and hmac.compare_digest, on
a WAL-mode SQLite file of the same size. Keyhouse.verify also checks the
format and checksum, expiry, revocation, permissions and usage. Both run on
the same machine in the same process; the result is a ratio of medians.
"""

import argparse
import hashlib
import hmac
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import keyhouse


def median_per_call(fn, calls: int, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def baseline_store(path: str, keys: list) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL)")
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO keys VALUES (?, ?)",
        ((k.rsplit("_", 2)[-2], hashlib.sha256(k.encode()).hexdigest()) for k in keys),
    )
    db.execute("COMMIT")
    return db


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import keyhouse; print(time.perf_counter() - t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(7)]
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        kh = keyhouse.Keyhouse(os.path.join(tmp, "keyhouse.db"))
        created = kh.create_many([{} for _ in range(args.keys)])
        key = created[len(created) // 2].key
        plain_keys = [c.key for c in created]
        db = baseline_store(os.path.join(tmp, "baseline.db"), plain_keys)
        select = "SELECT hash FROM keys WHERE id = ?"

        def baseline() -> bool:
            key_id = key.rsplit("_", 2)[-2]
            digest = hashlib.sha256(key.encode()).hexdigest()
            row = db.execute(select, (key_id,)).fetchone()
            return row is not None and hmac.compare_digest(row[0], digest)

        def keyhouse_verify() -> bool:
            return kh.verify(key).is_valid()

        assert baseline() and keyhouse_verify()
        for fn in (baseline, keyhouse_verify):  # warm up
            median_per_call(fn, args.calls, 2)
        base = median_per_call(baseline, args.calls, args.repeats)
        ours = median_per_call(keyhouse_verify, args.calls, args.repeats)
        kh.close()
        db.close()

    print(f"store size                 {args.keys} keys (WAL file)")
    print(f"pure-Python baseline       {base * 1e6:8.2f} µs per verify (median of {args.repeats} x {args.calls})")
    print(f"Keyhouse.verify            {ours * 1e6:8.2f} µs per verify")
    print(f"speed-up                   {base / ours:8.2f}x")
    print(f"import keyhouse            {import_time() * 1e3:8.2f} ms (median of 7 fresh interpreters)")


if __name__ == "__main__":
    main()
