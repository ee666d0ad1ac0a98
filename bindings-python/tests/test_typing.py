"""The stubs describe the module: mypy accepts a typed use and rejects a wrong one."""

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytest.importorskip("mypy")


def mypy(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent", str(path)],
        capture_output=True,
        text=True,
        cwd=HERE,
    )


def test_typed_usage_passes_mypy():
    out = mypy(HERE / "typed_usage.py")
    assert out.returncode == 0, out.stdout + out.stderr


def test_wrong_usage_fails_mypy(tmp_path):
    bad = tmp_path / "bad_usage.py"
    bad.write_text(
        "import keyhouse\n"
        "kh = keyhouse.Keyhouse(':memory:')\n"
        "n: int = kh.verify('k').outcome\n"
        "kh.create(owner_id=5)\n"
    )
    out = mypy(bad)
    assert out.returncode != 0
    assert "bad_usage.py:3" in out.stdout and "bad_usage.py:4" in out.stdout
