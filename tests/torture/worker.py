"""A torture-test worker: one process using a Keyhouse store the way a service does.

    python worker.py MODE DB [KEY ...]

Runs until the Unix time in TORTURE_DEADLINE. Modes:
  spend KEY..   verify the keys in turn; print a JSON summary of outcomes
  spendlog KEY  verify KEY; append one line per VALID to TORTURE_LOG (for kill -9)
  ratelog KEY   verify KEY; append "<start ns> <end ns>" per VALID to TORTURE_LOG
  watch KEY..   verify the keys in turn; append "<start ns> <key index> <OUTCOME>"
                per verify to TORTURE_LOG
  create        create keys; append each key to TORTURE_LOG once create returned
  churn KEY     open, verify KEY once, close; again and again; print a summary

TORTURE_REOPEN=N closes the store and opens it again every N verifies, as a
restarting service does. DB may be a postgres:// URL; TORTURE_SCHEMA then
names the schema. TORTURE_LEASE=N opens stores in leased mode (lease_size N).
worker.js does the same in Node, line for line.
"""

import json
import os
import sys
import time

import keyhouse


def main() -> None:
    mode, db, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
    deadline = float(os.environ["TORTURE_DEADLINE"])
    reopen = int(os.environ.get("TORTURE_REOPEN", "0"))
    log = os.open(os.environ["TORTURE_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT) if "TORTURE_LOG" in os.environ else None
    counts = {}
    options = {"schema": os.environ["TORTURE_SCHEMA"]} if "TORTURE_SCHEMA" in os.environ else {}
    if "TORTURE_LEASE" in os.environ:
        options["lease_size"] = int(os.environ["TORTURE_LEASE"])
    if mode == "churn":
        while time.time() < deadline:
            kh = keyhouse.Keyhouse(db, **options)
            outcome = kh.verify(keys[0]).outcome.value
            counts[outcome] = counts.get(outcome, 0) + 1
            kh.close()
        print(json.dumps(counts))
        return
    kh = keyhouse.Keyhouse(db, **options)
    n = 0
    while time.time() < deadline:
        if mode == "create":
            created = kh.create()
            os.write(log, (created.key + "\n").encode())
            continue
        i = n % len(keys)
        start = time.time_ns()
        outcome = kh.verify(keys[i]).outcome.value
        n += 1
        counts[f"{i}:{outcome}"] = counts.get(f"{i}:{outcome}", 0) + 1
        if mode == "spendlog" and outcome == "VALID":
            os.write(log, b"V\n")
        elif mode == "ratelog" and outcome == "VALID":
            os.write(log, f"{start} {time.time_ns()}\n".encode())
        elif mode == "watch":
            os.write(log, f"{start} {i} {outcome}\n".encode())
        if reopen and n % reopen == 0:
            kh.close()
            kh = keyhouse.Keyhouse(db, **options)
    kh.close()
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
