"""Python and the keyhouse CLI on one database file."""

import json
import subprocess

import keyhouse
from keyhouse import Outcome


def run(cli, db, *args):
    return subprocess.run([cli, "--db", str(db), *args], capture_output=True, text=True, timeout=60)


def test_key_from_python_verifies_in_the_cli(cli, db_path):
    with keyhouse.Keyhouse(db_path) as kh:
        c = kh.create(prefix="py_made", permissions=["files:*"], remaining=2)
    out = run(cli, db_path, "verify", c.key, "--permission", "files:read")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("VALID")
    with keyhouse.Keyhouse(db_path) as kh:
        assert kh.get(c.info.id).remaining == 1


def test_key_from_the_cli_verifies_in_python(cli, db_path):
    out = run(cli, db_path, "--json", "create", "--prefix", "cli_made", "--owner", "ops", "--metadata", '{"team": "infra"}')
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    with keyhouse.Keyhouse(db_path) as kh:
        r = kh.verify(made["key"])
        assert r.outcome is Outcome.VALID
        assert r.key.owner_id == "ops" and r.key.metadata == {"team": "infra"}
        kh.revoke(made["info"]["id"])
    out = run(cli, db_path, "verify", made["key"])
    assert out.returncode == 1 and out.stdout.startswith("REVOKED")


def test_open_at_the_same_time(cli, db_path):
    """The CLI writes while Python holds the store open."""
    with keyhouse.Keyhouse(db_path) as kh:
        c = kh.create(remaining=3)
        assert run(cli, db_path, "verify", c.key).returncode == 0
        r = kh.verify(c.key)
        assert r.is_valid() and r.key.remaining == 1
