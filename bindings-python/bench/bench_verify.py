"""Keyhouse.verify against a hand-written pure-Python baseline, in one run.

    python bindings-python/bench/bench_verify.py [--keys N ...] [--dist one|uniform|zipf ...]
        [--cache ROWS] [--warm] [--flush-interval S] [--hot] [--full]

--cache sets verify_cache_size; --warm verifies every key once, with both,
before timing, so that the timed passes see the steady state of a service
that has been up a while rather than its first minutes. --flush-interval
sets usage_flush_interval: after a warm-up of a million keys, the default
minute ends during the timed passes, and the flush thread then writes a
million keys' usage beside them. --hot gives each pass new key strings,
made in draw order, as a server makes them from the requests it reads:
otherwise each draw also reads the original string, at a random place
in a heap that at a million keys is far larger than the CPU's caches, a
miss that baseline and Keyhouse both pay and neither causes. --full gives
every key an owner, a name, two permissions and two metadata entries, as a
service's keys have, which each VALID result then carries into Python; the
baseline still reads the hash alone.

The baseline does the least a Python service would: hashlib.sha256 of the
key, a sqlite3 SELECT of the stored hash by id, and hmac.compare_digest, on
a WAL-mode SQLite file of the same size. Keyhouse.verify also checks the
format and checksum, expiry, revocation, permissions and usage. Both run on
the same machine in the same process; the result is a ratio of medians.
"""

import argparse
import hashlib
import hmac
import math
import os
import random
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


def draws(n: int, dist: str, count: int, seed: int = 1) -> list:
    """Indices into n keys: uniform, or Zipf-like (rank r drawn with
    probability ~ 1/r, by sampling log-uniformly), or always the middle key."""
    rng = random.Random(seed)
    if dist == "one":
        return [n // 2] * count
    if dist == "uniform":
        return [rng.randrange(n) for _ in range(count)]
    return [min(n - 1, int(math.exp(rng.random() * math.log(n + 1))) - 1) for _ in range(count)]


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, nargs="+", default=[10_000])
    ap.add_argument("--dist", choices=["one", "uniform", "zipf"], nargs="+", default=["one"])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--cache", type=int, default=None, help="verify_cache_size (default: the library's)")
    ap.add_argument("--warm", action="store_true", help="verify every key once before timing")
    ap.add_argument("--flush-interval", type=float, default=None, help="usage_flush_interval in seconds")
    ap.add_argument("--hot", action="store_true", help="new key strings in draw order for each pass")
    ap.add_argument("--full", action="store_true", help="keys with an owner, a name, permissions and metadata")
    args = ap.parse_args()
    print(f"{'keys':>9} {'access':>8} {'floor µs':>9} {'Keyhouse µs':>12} {'speed-up':>9} {'RSS MiB':>8}")
    for n in args.keys:
        for dist in args.dist:
            base, ours, rss = measure(
                n, dist, args.calls, args.repeats, args.cache, args.warm, args.flush_interval, args.hot, args.full
            )
            print(f"{n:>9} {dist:>8} {base * 1e6:>9.2f} {ours * 1e6:>12.2f} {base / ours:>8.2f}x {rss / 1024:>8.0f}", flush=True)
    print(f"import keyhouse: {import_time() * 1e3:.2f} ms (median of 7 fresh interpreters)")


def key_options(i: int, full: bool) -> dict:
    """The options of the i-th key: none, or with `full` what a service's key has."""
    if not full:
        return {}
    return {
        "owner_id": f"org_{i // 3:08}",
        "name": f"production server {i}",
        "permissions": ["files:read", "files:write"],
        "metadata": {"plan": "pro", "region": "eu-west-1"},
    }


def measure(n: int, dist: str, calls: int, repeats: int, cache, warm: bool, flush_interval=None, hot=False, full=False):
    """Median seconds per verify for the floor and for Keyhouse, on n-key
    WAL files, drawing keys by `dist`; and the process's RSS at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        options = {} if flush_interval is None else {"usage_flush_interval": flush_interval}
        kh = keyhouse.Keyhouse(os.path.join(tmp, "keyhouse.db"), verify_cache_size=cache, **options)
        plain_keys = []
        for start in range(0, n, 100_000):
            batch = [key_options(i, full) for i in range(start, min(n, start + 100_000))]
            plain_keys += [c.key for c in kh.create_many(batch)]
        db = baseline_store(os.path.join(tmp, "baseline.db"), plain_keys)
        select = "SELECT hash FROM keys WHERE id = ?"
        # Fresh draws for every pass: reusing one list would cycle through
        # too few keys to leave the verify cache.
        # str.encode().decode() makes a new string object (see --hot).
        copy = (lambda key: key.encode().decode()) if hot else (lambda key: key)
        passes = iter([[copy(plain_keys[i]) for i in draws(n, dist, calls, seed)] for seed in range(2 * (repeats + 2))])

        def baseline_all() -> None:
            for key in next(passes):
                key_id = key.rsplit("_", 2)[-2]
                digest = hashlib.sha256(key.encode()).hexdigest()
                row = db.execute(select, (key_id,)).fetchone()
                assert row is not None and hmac.compare_digest(row[0], digest)

        def keyhouse_all() -> None:
            verify = kh.verify
            for key in next(passes):
                verify(key)

        assert kh.verify(plain_keys[0]).is_valid()
        if warm:
            for key in plain_keys:
                key_id = key.rsplit("_", 2)[-2]
                db.execute(select, (key_id,)).fetchone()
                kh.verify(key)
        for fn in (baseline_all, keyhouse_all):  # warm up
            median_per_call(fn, 1, 2)
        base = median_per_call(baseline_all, 1, repeats) / calls
        ours = median_per_call(keyhouse_all, 1, repeats) / calls
        rss = rss_kib()
        kh.close()
        db.close()
    return base, ours, rss


if __name__ == "__main__":
    main()
