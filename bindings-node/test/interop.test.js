'use strict'
// Node, Python and the keyhouse CLI on one database file.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const kh = require('..')
const { tempDb, cliPath, pythonPath } = require('./helpers')

test('a key from Node verifies in the CLI', (t) => {
  const db = tempDb(t)
  const store = kh.Keyhouse.open(db)
  const c = store.createSync({ prefix: 'node_made', permissions: ['files:*'], remaining: 2 })
  store.closeSync()
  const out = spawnSync(cliPath(), ['--db', db, 'verify', c.key, '--permission', 'files:read'], { encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  assert.match(out.stdout, /^VALID/)
  const again = kh.Keyhouse.open(db)
  assert.equal(again.getSync(c.info.id).remaining, 1)
  again.closeSync()
})

test('a key from the CLI verifies in Node', (t) => {
  const db = tempDb(t)
  const made = JSON.parse(execFileSync(cliPath(), ['--db', db, '--json', 'create', '--owner', 'ops', '--metadata', '{"team":"infra"}'], { encoding: 'utf8' }))
  const store = kh.Keyhouse.open(db)
  const r = store.verifySync(made.key)
  assert.equal(r.outcome, 'VALID')
  assert.equal(r.key.ownerId, 'ops')
  assert.deepEqual(r.key.metadata, { team: 'infra' })
  store.closeSync()
})

test('a key from Node verifies in Python, and a revoke from Python shows in Node', (t) => {
  const python = pythonPath()
  if (!fs.existsSync(python)) {
    t.skip(`no Python with keyhouse at ${python} (make test-python creates it)`)
    return
  }
  const db = tempDb(t)
  const store = kh.Keyhouse.open(db)
  const c = store.createSync({ ownerId: 'from-node', permissions: ['a:b'] })
  const script = [
    'import sys, keyhouse',
    'with keyhouse.Keyhouse(sys.argv[1]) as kh:',
    '    r = kh.verify(sys.argv[2], ["a:b"])',
    '    print(r.outcome.value, r.key.owner_id)',
    '    kh.revoke(r.key.id)',
  ].join('\n')
  const out = spawnSync(python, ['-c', script, db, c.key], { encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  assert.equal(out.stdout.trim(), 'VALID from-node')
  assert.equal(store.verifySync(c.key).outcome, 'REVOKED')
  store.closeSync()
})
