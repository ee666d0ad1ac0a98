#!/usr/bin/env bash
# Packs the npm package and installs the tarball into a fresh project, as a
# user would, then loads it from CommonJS and from an ES module.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball=$(cd "$here" && npm pack --silent --pack-destination "$tmp")
cd "$tmp"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "./$tarball"
node -e "
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
node check.mjs
node -e "if (typeof require('keyhouse/client').createKeyClient !== 'function') process.exit(1)"
# The CLI, as `npx keyhouse` runs it from the installed package.
test "$(npx --no-install keyhouse --version)" = "keyhouse $(node -p "require('keyhouse/package.json').version")"
echo "pack-check: 1 passed, 0 failed"
