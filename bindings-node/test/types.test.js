'use strict'
// The generated declarations type a real use, under isolatedModules, and reject a wrong one.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

function tsc(file) {
  const args = [TSC, '--noEmit', '--strict', '--isolatedModules', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', file]
  return spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' })
}

test('a typed use passes tsc --strict --isolatedModules', () => {
  const out = tsc(path.join(__dirname, 'types', 'usage.ts'))
  assert.equal(out.status, 0, out.stdout + out.stderr)
})

test('a wrong use fails tsc', (t) => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'test', 'types', 'tmp-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const bad = path.join(dir, 'bad.ts')
  fs.writeFileSync(bad, [
    "import { Keyhouse } from 'keyhouse'",
    "const kh = Keyhouse.open(':memory:')",
    'const n: number = kh.verifySync("k").outcome',
    'kh.createSync({ ownerId: 5 })',
    'export { n }',
  ].join('\n'))
  const out = tsc(bad)
  assert.notEqual(out.status, 0)
  assert.match(out.stdout, /bad\.ts\(3,/)
  assert.match(out.stdout, /bad\.ts\(4,/)
})
