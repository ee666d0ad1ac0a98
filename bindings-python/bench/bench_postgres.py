"""Keyhouse on PostgreSQL from Python, beside a psycopg floor in the same run.

    KEYHOUSE_TEST_PG=postgres://… python bindings-python/bench/bench_postgres.py

The floor is what a Python service would write by hand: psycopg running a
prepared SELECT of the stored hash by id, hashlib.sha256 and
hmac.compare_digest (one round trip). Reported: a cache miss (a new store,
each key verified once) against the floor, and a cached verify, sync and
awaited (`verify_async`, answered on the event loop). Medians of 3 rounds.
"""

import asyncio
import hashlib
import hmac
import os
import statistics
import time
import uuid

import psycopg

import keyhouse

URL = os.environ["KEYHOUSE_TEST_PG"]
ROUNDS = 3
N = 1000


def p50(samples):
    return statistics.median(samples)


def timed(fn, *args):
    t = time.perf_counter_ns()
    fn(*args)
    return (time.perf_counter_ns() - t) / 1000


def main():
    schema = f"bench_py_{uuid.uuid4().hex[:8]}"
    kh = keyhouse.Keyhouse(URL, schema=schema)
    keys = [c.key for c in kh.create_many([{}] * N)] if hasattr(kh, "create_many") else [kh.create().key for _ in range(N)]
    conn = psycopg.connect(URL, autocommit=True, prepare_threshold=0)
    sql = f'SELECT hash FROM "{schema}".keys WHERE id = %s'

    def floor(key):
        digest = hashlib.sha256(key.encode()).hexdigest()
        stored = conn.execute(sql, (key.rsplit("_", 2)[1],), prepare=True).fetchone()[0]
        assert hmac.compare_digest(stored.rsplit("$", 1)[1], digest)

    rows = []
    for _ in range(ROUNDS):
        f = p50([timed(floor, k) for k in keys])
        cold = keyhouse.Keyhouse(URL, schema=schema)
        miss = p50([timed(cold.verify, k) for k in keys])
        hot = keys[0]
        cached = p50([timed(cold.verify, hot) for _ in range(20000)])

        async def awaited():
            samples = []
            for _ in range(20000):
                t = time.perf_counter_ns()
                await cold.verify_async(hot)
                samples.append((time.perf_counter_ns() - t) / 1000)
            return p50(samples)

        aw = asyncio.run(awaited())
        cold.close()
        rows.append((f, miss, cached, aw))
    m = [statistics.median(r[i] for r in rows) for i in range(4)]
    print(f"psycopg floor (prepared SELECT + sha256 + compare_digest): {m[0]:.1f} µs")
    print(f"verify, cache miss: {m[1]:.1f} µs = {m[1] / m[0]:.2f}x the floor")
    print(f"verify, cached: sync {m[2]:.2f} µs, awaited verify_async {m[3]:.2f} µs = {m[3] / m[2]:.2f}x")
    kh.close()
    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
