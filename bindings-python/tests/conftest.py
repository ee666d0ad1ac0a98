"""Shared fixtures for the keyhouse Python tests."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import keyhouse

REPO = Path(__file__).resolve().parents[2]
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
