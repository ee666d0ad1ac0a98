#!/usr/bin/env bash
# Runs a command as a user without Rust would: every PATH directory holding
# cargo, rustc or rustup dropped, CARGO_HOME and RUSTUP_HOME pointing
# nowhere. The packages are installed and tested this way, so nothing can
# quietly fall back to building from source.
#
#   tests/no-rust.sh pip install dist/keyhouse-*.whl
set -euo pipefail
kept=()
IFS=: read -r -a dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  if [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ]; then continue; fi
  kept+=("$d")
done
PATH=$(IFS=:; echo "${kept[*]}")
export PATH CARGO_HOME=/nonexistent RUSTUP_HOME=/nonexistent
for tool in cargo rustc rustup; do
  if command -v "$tool" >/dev/null; then echo "no-rust.sh: $tool is still on PATH" >&2; exit 1; fi
done
exec "$@"
