#!/usr/bin/env python3
"""One version number: the workspace's, in Cargo.toml. The crates inherit it
(`version.workspace = true`) and the Python package reads it from there
(`dynamic = ["version"]`, filled in by maturin). The npm packages and
the pom.xml files must spell it out, so this check fails if any disagrees.

    python3 tests/versions.py            # prints the version, exits 1 on a mismatch
"""

import json
import sys
import tomllib
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    problems = []
    for crate in ("core", "bindings-python", "bindings-node", "bindings-uniffi"):
        package = tomllib.loads((ROOT / crate / "Cargo.toml").read_text())["package"]
        if package.get("version") != {"workspace": True}:
            problems.append(f"{crate}/Cargo.toml: version must be `version.workspace = true`")
    project = tomllib.loads((ROOT / "bindings-python" / "pyproject.toml").read_text())["project"]
    if "version" in project or "version" not in project.get("dynamic", []):
        problems.append("bindings-python/pyproject.toml: the version must be dynamic (maturin takes Cargo's)")
    found = {
        path: json.loads((ROOT / path).read_text())["version"]
        for path in (
            "bindings-node/package.json",
            "bindings-node/package-lock.json",
            "bindings-node/npm/linux-x64-gnu/package.json",
        )
    }
    # Each project's own <version>: a child of the root element.
    for path in ("bindings-uniffi/kotlin/pom.xml", "bindings-uniffi/java/pom.xml"):
        version = ElementTree.parse(ROOT / path).getroot().find("{http://maven.apache.org/POM/4.0.0}version")
        found[path] = version.text if version is not None else "(none)"
    for path, version in found.items():
        if version != workspace:
            problems.append(f"{path}: version {version}, but Cargo.toml's workspace version is {workspace}")
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"versions: {workspace} everywhere")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
