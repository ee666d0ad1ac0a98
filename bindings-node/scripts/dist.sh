#!/usr/bin/env bash
# Packs what npm would publish, the napi-rs way, into OUT_DIR:
# - keyhouse-<version>.tgz, the main package: JavaScript, types and the CLI,
#   no addon, with the platform package under optionalDependencies (which
#   the generated index.js loads when no local .node is beside it);
# - keyhouse-linux-x64-gnu-<version>.tgz, the stripped addon for Linux x86-64 glibc.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:?usage: dist.sh OUT_DIR}" && cd "$1" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
platform=keyhouse-linux-x64-gnu
addon=keyhouse.linux-x64-gnu.node

mkdir "$stage/platform"
cp "$here/npm/linux-x64-gnu/package.json" "$stage/platform/"
strip --strip-all -o "$stage/platform/$addon" "$here/$addon"
(cd "$stage/platform" && npm pack --silent --pack-destination "$out" >/dev/null)

# The main package: what `npm pack` takes from the source tree, minus the
# addon, plus the optional dependency on the platform package.
tarball=$(cd "$here" && npm pack --silent --pack-destination "$stage")
tar -xzf "$stage/$tarball" -C "$stage"
rm -f "$stage"/package/*.node
node -e "
const fs = require('fs')
const file = '$stage/package/package.json'
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
const platform = JSON.parse(fs.readFileSync('$here/npm/linux-x64-gnu/package.json', 'utf8'))
if (platform.version !== pkg.version) throw new Error('the platform package version differs from the main one')
pkg.files = pkg.files.filter((f) => f !== '*.node')
pkg.optionalDependencies = { '$platform': pkg.version }
delete pkg.devDependencies
delete pkg.scripts
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n')
"
(cd "$stage/package" && npm pack --silent --pack-destination "$out" >/dev/null)
ls "$out"/keyhouse-*.tgz
