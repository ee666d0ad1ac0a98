"""Shared fixtures for the keyhouse Python tests."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import keyhouse

REPO = Path(__file__).resolve().parents[2]

# make test installs the wheel from dist/ and says so: the suite must then
# run against that installed package, never a copy of the source tree.
# The wheel must not carry the test seams; the build that make test makes for
# the `seams` tests (KEYHOUSE_SEAMS=1) must.
SEAMS = ("_TestClock", "_open_with_clock", "_generate_from_bytes")
if os.environ.get("KEYHOUSE_FROM_WHEEL"):
    assert "site-packages" in Path(keyhouse.__file__).parts, f"keyhouse comes from {keyhouse.__file__}, not the wheel"
    stubs = (Path(keyhouse.__file__).parent / "_native.pyi").read_text(encoding="utf-8")
    shipped = [name for name in SEAMS if hasattr(keyhouse._native, name) or name in stubs]
    assert not shipped, f"the wheel's module or stubs have the test seams {shipped}"
if os.environ.get("KEYHOUSE_SEAMS"):
    missing = [name for name in SEAMS if not hasattr(keyhouse._native, name)]
    assert not missing, f"{keyhouse.__file__} was built without the test seams (missing {missing})"


def pytest_configure(config):
    config.addinivalue_line("markers", "seams: needs a build with the test-seams feature (make test runs these apart)")
VECTORS = REPO / "tests" / "vectors"


def read_vectors(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture
def kh():
    with keyhouse.Keyhouse(":memory:") as store:
        yield store


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "keyhouse.db"


@pytest.fixture(scope="session")
def cli() -> str:
    """The keyhouse CLI binary: $KEYHOUSE_CLI, or the workspace's debug build."""
    given = os.environ.get("KEYHOUSE_CLI")
    if given:
        assert Path(given).exists(), f"KEYHOUSE_CLI={given} does not exist"
        return given
    path = str(REPO / "target" / "debug" / "keyhouse")
    if not Path(path).exists():
        cargo = shutil.which("cargo")
        assert cargo, "cargo is needed to build the keyhouse CLI for the interop tests"
        subprocess.run([cargo, "build", "-q", "-p", "keyhouse", "--bin", "keyhouse"], cwd=REPO, check=True)
    return path


def pg_url() -> str:
    """The PostgreSQL server the tests run against. Unset fails the test
    loudly: `make test` starts a server and sets it."""
    url = os.environ.get("KEYHOUSE_TEST_PG")
    if not url:
        pytest.fail(
            "KEYHOUSE_TEST_PG is not set: the PostgreSQL tests need a server "
            "(make test starts one; or export KEYHOUSE_TEST_PG=postgres://USER:PASSWORD@HOST/DB)",
            pytrace=False,
        )
    return url


def psql(sql: str, *params):
    """Runs one statement on the test server behind Keyhouse's back, as psql would."""
    import psycopg

    with psycopg.connect(pg_url(), autocommit=True) as conn:
        cur = conn.execute(sql, params or None)
        return cur.fetchall() if cur.description else None


@pytest.fixture
def pg_schema():
    """A PostgreSQL schema of the test's own, dropped afterwards."""
    import uuid

    name = f"py_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    yield name
    psql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
