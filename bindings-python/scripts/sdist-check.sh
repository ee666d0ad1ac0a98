#!/usr/bin/env bash
# Builds a wheel from the sdist's own sources (this needs Rust), as pip does
# where no wheel fits, though with the release wheel's build options rather
# than pip's isolated defaults; installs it in a fresh virtualenv and uses
# it there: the package imports from that virtualenv, a key it creates
# verifies, and `python -m keyhouse --version` prints the workspace's
# version. This proves
# the sdist carries everything a build needs (the workspace manifest, the
# lock file, the core and the binding).
#
# MATURIN_PEP517_ARGS passes maturin build options from the caller: make
# gives the wheel's own, target directory included, so the sdist's build
# reuses the dependencies the wheel compiled and compiles only the two
# crates it unpacks (the core and the binding).
#
#   bindings-python/scripts/sdist-check.sh SDIST PYTHON
#   (PYTHON: an interpreter with maturin installed, for the PEP 517 build)
set -euo pipefail
sdist=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
python=$2
version=$(tar -xzOf "$sdist" "$(basename "$sdist" .tar.gz)/PKG-INFO" | sed -n 's/^Version: //p')
test -n "$version"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Unpacked here rather than by pip, to give every file a fresh mtime: the
# target directory already holds the wheel's build of the same crates, under
# the same names (cargo hashes path crates by their place in the workspace),
# and the tarball's older mtimes would let cargo take that build as fresh
# instead of compiling the sdist's own sources. (The wheel's target
# directory then holds this build of the same sources, which the next
# `make dist-python` takes as current.)
mkdir "$tmp/src"
tar -xzf "$sdist" -C "$tmp/src" --strip-components=1
find "$tmp/src" -type f -exec touch {} +
"$python" -m pip wheel -q --no-deps --no-build-isolation -w "$tmp/wheel" "$tmp/src"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --no-deps "$tmp"/wheel/keyhouse-*.whl
cd "$tmp"
"$tmp/venv/bin/python" - "$tmp/venv" <<'PY'
import os, sys
import keyhouse
def check(ok, what):
    if not ok:
        sys.exit("sdist-check: " + what)
check(keyhouse.__file__.startswith(sys.argv[1]), "keyhouse imported from " + keyhouse.__file__)
kh = keyhouse.Keyhouse(os.path.join(os.getcwd(), "sdist.db"))
created = kh.create(name="from the sdist")
check(kh.verify(created.key).is_valid(), "a new key does not verify")
kh.revoke(created.info.id)
check(not kh.verify(created.key).is_valid(), "a revoked key verifies")
PY
got=$("$tmp/venv/bin/python" -m keyhouse --version)
if [ "$got" != "keyhouse $version" ]; then echo "sdist-check: --version printed '$got', not 'keyhouse $version'" >&2; exit 1; fi
echo "sdist-check: the sdist builds, installs and verifies a key ($got)"
