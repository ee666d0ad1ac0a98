"""`python -m keyhouse` and the `keyhouse` console script are the core's
CLI: every case in tests/vectors/cli.json gives the same stdout, stderr and
exit code as the Rust binary, on a fresh copy of the same store."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_vectors

CASES = read_vectors("cli.json")["cases"]
SCRIPT = Path(sys.executable).parent / "keyhouse"


@pytest.fixture(scope="module")
def store(cli, tmp_path_factory):
    """A pristine store with one key and one revoked key, made by the binary."""
    base = tmp_path_factory.mktemp("cli")
    pristine = base / "pristine.db"
    run = lambda *args: subprocess.run([cli, "--db", str(pristine), "--json", *args], capture_output=True, text=True, check=True)
    made = json.loads(run("create", "--name", "cli", "--owner", "o").stdout)
    revoked = json.loads(run("create").stdout)
    run("revoke", revoked["info"]["id"])
    return {"pristine": pristine, "db": base / "case.db", "key": made["key"], "id": made["info"]["id"],
            "revoked_key": revoked["key"]}


def entry_command(entry):
    """The command line of one of the package's two CLI entry points."""
    return [sys.executable, "-m", "keyhouse"] if entry == "python -m keyhouse" else [str(SCRIPT)]


def fresh(cli, store) -> None:
    """The case's store, copied anew through the CLI's own `copy`."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(store["db"]) + suffix).unlink(missing_ok=True)
    subprocess.run([cli, "copy", "--from", str(store["pristine"]), "--to", str(store["db"])], capture_output=True, check=True)


def run_case(command, case, store):
    fill = lambda s: s.format(db=store["db"], key=store["key"], id=store["id"], revoked_key=store["revoked_key"])
    env = {k: v for k, v in os.environ.items() if k != "KEYHOUSE_DB"}
    r = subprocess.run([*command, *map(fill, case["args"])], input=fill(case.get("stdin", "")), capture_output=True,
                       text=True, env=env, timeout=60)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
@pytest.mark.parametrize("entry", ["python -m keyhouse", "keyhouse script"])
def test_the_same_cli(cli, store, case, entry):
    command = entry_command(entry)
    fresh(cli, store)
    expected = run_case([cli], case, store)
    fresh(cli, store)
    got = run_case(command, case, store)
    assert got == expected
    assert store["key"] not in got[2], "a key reached stderr"


@pytest.mark.parametrize("entry", ["python -m keyhouse", "keyhouse script"])
def test_a_key_made_by_either_program_verifies_with_the_other(cli, tmp_path, entry):
    ours = entry_command(entry)
    env = {k: v for k, v in os.environ.items() if k != "KEYHOUSE_DB"}
    db = str(tmp_path / "cross.db")

    def run(program, *args):
        r = subprocess.run([*program, "--db", db, "--json", *args], capture_output=True, text=True, env=env, timeout=60)
        return r.returncode, json.loads(r.stdout)

    made_here = run(ours, "create", "--name", "from python")[1]
    made_there = run([cli], "create", "--name", "from rust")[1]
    for program, made, name in (([cli], made_here, "from python"), (ours, made_there, "from rust")):
        code, out = run(program, "verify", made["key"])
        assert (code, out["outcome"], out["key"]["name"]) == (0, "VALID", name)
    # A revoke by one is seen by the other.
    run([cli], "revoke", made_here["info"]["id"])
    code, out = run(ours, "verify", made_here["key"])
    assert (code, out["outcome"]) == (1, "REVOKED")
