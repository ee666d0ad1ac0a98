'use strict'
// `npx keyhouse` (bin/keyhouse.js) is the core's CLI: every case in
// tests/vectors/cli.json gives the same stdout, stderr and exit code as the
// Rust binary, on a fresh copy of the same store.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { readVectors, tempDb, cliPath } = require('./helpers')

// KEYHOUSE_BIN: an installed package's command (scripts/dist-check.sh).
const BIN = process.env.KEYHOUSE_BIN || path.join(__dirname, '..', 'bin', 'keyhouse.js')
const env = { ...process.env }
delete env.KEYHOUSE_DB

function run(command, args, input = '') {
  const r = spawnSync(command[0], [...command.slice(1), ...args], { input, encoding: 'utf8', env, timeout: 60000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

test('npx keyhouse is the same program as the Rust binary', (t) => {
  const cli = cliPath()
  const pristine = tempDb(t)
  const db = path.join(path.dirname(pristine), 'case.db')
  const made = JSON.parse(run([cli], ['--db', pristine, '--json', 'create', '--name', 'cli', '--owner', 'o']).stdout)
  const revoked = JSON.parse(run([cli], ['--db', pristine, '--json', 'create']).stdout)
  run([cli], ['--db', pristine, 'revoke', revoked.info.id])
  const fill = (s) => s.replace('{db}', db).replace('{key}', made.key).replace('{id}', made.info.id)
    .replace('{revoked_key}', revoked.key)
  const fresh = () => {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(db + suffix, { force: true })
    assert.equal(run([cli], ['copy', '--from', pristine, '--to', db]).status, 0)
  }
  for (const c of readVectors('cli.json').cases) {
    const args = c.args.map(fill)
    fresh()
    const expected = run([cli], args, fill(c.stdin ?? ''))
    fresh()
    const got = run([process.execPath, BIN], args, fill(c.stdin ?? ''))
    assert.deepEqual(got, expected, c.name)
  }
})

test('a key made by either program verifies with the other', (t) => {
  const cli = cliPath()
  const db = tempDb(t)
  const ours = [process.execPath, BIN]
  const json = (command, ...args) => {
    const r = run(command, ['--db', db, '--json', ...args])
    return { status: r.status, out: JSON.parse(r.stdout) }
  }
  const madeHere = json(ours, 'create', '--name', 'from node').out
  const madeThere = json([cli], 'create', '--name', 'from rust').out
  for (const [command, made, name] of [[[cli], madeHere, 'from node'], [ours, madeThere, 'from rust']]) {
    const { status, out } = json(command, 'verify', made.key)
    assert.deepEqual([status, out.outcome, out.key.name], [0, 'VALID', name])
  }
  // A revoke by one is seen by the other.
  json([cli], 'revoke', madeHere.info.id)
  const { status, out } = json(ours, 'verify', madeHere.key)
  assert.deepEqual([status, out.outcome], [1, 'REVOKED'])
})
