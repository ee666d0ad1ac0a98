"""Throughput of consuming verifies on one hot key, shared by several processes.

    python bindings-python/bench/bench_spend_processes.py [--processes 4] [--seconds 5]

Each process opens the same WAL file and verifies one key with credits (and
then one with a rate limit) as fast as it can, in exact mode and then in
leased mode (lease_size 100). Prints the total VALID per second and checks
the totals: VALID + remaining = initial credits once every process has
closed, and rate-limit admissions within the GCRA allowance.
"""

import argparse
import multiprocessing as mp
import os
import tempfile
import time

import keyhouse


def spend(path: str, key: str, seconds: float, start: float, lease, out) -> None:
    kh = keyhouse.Keyhouse(path, lease_size=lease)
    while time.time() < start:
        time.sleep(0.001)
    valid = calls = 0
    deadline = start + seconds
    while time.time() < deadline:
        calls += 1
        if kh.verify(key).is_valid():
            valid += 1
    kh.close()
    out.put((valid, calls))


def run(path: str, key: str, processes: int, seconds: float, lease) -> tuple:
    out = mp.Queue()
    start = time.time() + 1.0
    procs = [mp.Process(target=spend, args=(path, key, seconds, start, lease, out)) for _ in range(processes)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
        assert p.exitcode == 0
    return sum(v for v, _ in results), sum(c for _, c in results)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    credits = 10**9
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "keyhouse.db")
        kh = keyhouse.Keyhouse(path)
        kh.create_many([{} for _ in range(1000)])
        limit, window = 1_000_000, 3600
        for (name, options), lease in [(kind, lease) for lease in (None, 100) for kind in (
            ("credits", {"remaining": credits}),
            ("rate_limit", {"rate_limit": keyhouse.RateLimit(limit, window)}),
        )]:
            created = kh.create(**options)
            valid, calls = run(path, created.key, args.processes, args.seconds, lease)
            info = kh.get(created.info.id)
            if name == "credits":
                assert valid + info.remaining == credits, (valid, info.remaining)
            else:
                # GCRA admits at most limit at once plus what the window refills meanwhile.
                assert valid <= limit + limit * (args.seconds + 2) / window + 1, valid
            mode = "exact" if lease is None else f"leased ({lease})"
            print(
                f"{name:>10}, {mode:>12}: {args.processes} processes, {valid / args.seconds:,.0f} VALID/s in total "
                f"({calls / args.seconds:,.0f} calls/s), totals exact"
            )
        kh.close()


if __name__ == "__main__":
    main()
