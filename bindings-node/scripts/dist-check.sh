#!/usr/bin/env bash
# Installs the two tarballs `make dist` packs (the main package and the
# platform package) into a fresh project with no Rust toolchain in reach,
# as a user would, and runs the API, vectors, Express and client suites
# against the installed package, then loads it from CommonJS, an ES module
# and `npx keyhouse`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
dist=$(cd "${1:?usage: dist-check.sh DIST_DIR}" && pwd)
version=$(node -p "require('$here/package.json').version")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
norust="$repo/tests/no-rust.sh"
express=$(node -p "require('$here/package.json').devDependencies.express")
"$norust" npm install --no-audit --no-fund --silent \
  "$dist/keyhouse-linux-x64-gnu-$version.tgz" "$dist/keyhouse-$version.tgz" "express@$express"

# The addon comes from the platform package, not from the main one.
if ls node_modules/keyhouse/*.node >/dev/null 2>&1; then echo "dist-check: the main package holds an addon" >&2; exit 1; fi
test -f node_modules/keyhouse-linux-x64-gnu/keyhouse.linux-x64-gnu.node
# readelf writes to a file first, so that a missing readelf fails the check.
readelf -S node_modules/keyhouse-linux-x64-gnu/keyhouse.linux-x64-gnu.node > sections
if grep -q -e '\.symtab' -e '\.debug_' sections; then echo "dist-check: the addon is not stripped" >&2; exit 1; fi
"$repo/tests/glibc-floor.sh" node_modules/keyhouse-linux-x64-gnu/keyhouse.linux-x64-gnu.node

# No test seams in what ships: not in the addon's own exports, and not in
# the JavaScript or the type declarations. (The vectors suite below loads
# them from the seams build in KEYHOUSE_SEAMS_ADDON, which make test passes.)
seams='_TestClock|_openWithClock|_generateFromBytes'
"$norust" node -e "
const addon = require('keyhouse-linux-x64-gnu')
const found = Object.keys(addon).filter((k) => /^($seams)\$/.test(k))
if (found.length || Object.keys(addon).length < 10) { console.error('dist-check: the addon exports', found); process.exit(1) }
"
# (cat first, so that a glob that matches nothing fails rather than passes)
cat node_modules/keyhouse/*.js node_modules/keyhouse/*.mjs node_modules/keyhouse/*.d.ts > shipped.txt
if grep -E "$seams" shipped.txt; then
  echo "dist-check: the package mentions the test seams" >&2; exit 1
fi

# The suites, pointed at the installed package instead of the source tree.
mkdir test
for f in helpers.js api.test.js vectors.test.js express.test.js client.test.js cli.test.js; do
  sed -e "s#require('\.\.')#require('keyhouse')#" -e "s#require('\.\./express')#require('keyhouse/express')#" \
      -e "s#require('\.\./client')#require('keyhouse/client')#" -e "s#import('\.\./client\.mjs')#import('keyhouse/client')#" \
      "$here/test/$f" > "test/$f"
done
if grep -n -e "require('\.\." -e "import('\.\." test/*.js; then echo "dist-check: a test still loads the source tree" >&2; exit 1; fi
KEYHOUSE_REPO="$repo" KEYHOUSE_BIN="$tmp/node_modules/keyhouse/bin/keyhouse.js" "$norust" node --test test/

"$norust" node -e "
const { Keyhouse } = require('keyhouse')
const kh = Keyhouse.open(':memory:')
const c = kh.createSync()
if (kh.verifySync(c.key).outcome !== 'VALID') process.exit(1)
"
cat > check.mjs <<'JS'
import { Keyhouse, KeyhouseError } from 'keyhouse'
import { apiKeyAuth, keyRouter } from 'keyhouse/express'
import { createKeyClient } from 'keyhouse/client'
const kh = Keyhouse.open(':memory:')
const c = await kh.create()
const r = await kh.verify(c.key)
if (r.outcome !== 'VALID' || typeof apiKeyAuth !== 'function' || typeof KeyhouseError !== 'function') process.exit(1)
if (typeof keyRouter !== 'function' || typeof createKeyClient !== 'function') process.exit(1)
JS
"$norust" node check.mjs
test "$("$norust" npx --no-install keyhouse --version)" = "keyhouse $version"
echo "dist-check: the packed packages install and pass without Rust"
