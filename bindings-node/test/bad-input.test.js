'use strict'
// Bad input for every argument: TypeError for wrong types, KeyhouseError
// INVALID_ARGUMENT for bad values, never a crash.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const kh = require('..')

const NOT_STRINGS = [undefined, null, 42, true, {}, ['k'], Buffer.from('k'), () => 'k']
const HUGE = 'k'.repeat(10 * 1024 * 1024)
const invalid = { name: 'KeyhouseError', code: 'INVALID_ARGUMENT' }

test('keys that are not strings are TypeErrors', async () => {
  const store = kh.Keyhouse.open(':memory:')
  for (const bad of NOT_STRINGS) {
    assert.throws(() => store.verifySync(bad), TypeError)
    assert.throws(() => store.verify(bad), TypeError)
    assert.throws(() => kh.parse(bad), TypeError)
    assert.throws(() => kh.hashKey(bad), TypeError)
    assert.throws(() => kh.verifyHash(bad, 'sha256$' + '0'.repeat(64)), TypeError)
  }
})

test('ids that are not strings are TypeErrors', () => {
  const store = kh.Keyhouse.open(':memory:')
  for (const bad of NOT_STRINGS) {
    for (const call of [store.getSync, store.revokeSync, store.deleteSync, store.rollSync, store.get, store.revoke, store.delete, store.roll]) {
      assert.throws(() => call.call(store, bad), TypeError)
    }
    assert.throws(() => store.updateSync(bad, { name: 'x' }), TypeError)
  }
})

test('odd strings are MALFORMED outcomes', () => {
  const store = kh.Keyhouse.open(':memory:')
  for (const text of ['', 'x', '\0', 'é'.repeat(50), '\ud800', HUGE, 'kh_' + 'A'.repeat(14) + '_' + 'B'.repeat(49)]) {
    const r = store.verifySync(text)
    assert.equal(r.outcome, 'MALFORMED')
    assert.ok(r.malformedReason)
    assert.throws(() => kh.parse(text), { code: 'MALFORMED' })
  }
  assert.equal(store.verifySync(HUGE).malformedReason, 'TOO_LONG')
})

test('malformed ids are INVALID_ARGUMENT', () => {
  const store = kh.Keyhouse.open(':memory:')
  for (const id of ['', 'short', 'x'.repeat(100), 'has spaces in!', HUGE]) assert.throws(() => store.getSync(id), invalid)
})

test('create options', () => {
  const store = kh.Keyhouse.open(':memory:')
  const cases = [
    [{ ownerId: 5 }, TypeError],
    [{ ownerId: '' }, invalid],
    [{ name: 'n'.repeat(300) }, invalid],
    [{ prefix: 'Bad' }, invalid],
    [{ prefix: 1 }, TypeError],
    [{ expiresIn: -1 }, invalid],
    [{ expiresIn: NaN }, invalid],
    [{ expiresIn: Infinity }, invalid],
    [{ expiresIn: '1h' }, TypeError],
    [{ expiresAt: '2030-01-01' }, TypeError],
    [{ expiresAt: new Date('nope') }, invalid],
    [{ expiresAt: new Date(Date.now() - 1000) }, invalid],
    [{ expiresIn: 10, expiresAt: new Date(Date.now() + 1e6) }, invalid],
    [{ permissions: 'files:read' }, TypeError],
    [{ permissions: [1] }, TypeError],
    [{ permissions: ['has space'] }, invalid],
    [{ metadata: [1, 2] }, TypeError],
    [{ metadata: 'x' }, TypeError],
    [{ metadata: { big: 'y'.repeat(20000) } }, invalid],
    [{ remaining: -1 }, invalid],
    [{ remaining: 1.5 }, invalid],
    [{ remaining: '5' }, TypeError],
    [{ refill: 5 }, TypeError],
    [{ refill: { amount: 1 } }, TypeError],
    [{ refill: { amount: 1, interval: -5 } }, invalid],
    [{ rateLimit: [10, 60] }, TypeError],
    [{ rateLimit: { limit: 0, window: 60 } }, invalid],
    [{ rateLimit: { limit: 10, window: '60' } }, TypeError],
    [{ unknown: 1 }, TypeError],
    ['not an object', TypeError],
  ]
  for (const [options, expected] of cases) {
    assert.throws(() => store.createSync(options), expected, JSON.stringify(options))
  }
  assert.equal(store.listSync().keys.length, 0)
})

test('verify, list, update, roll and config arguments', () => {
  const store = kh.Keyhouse.open(':memory:')
  const c = store.createSync({ remaining: 5 })
  assert.throws(() => store.verifySync(c.key, 'a:b'), TypeError)
  assert.throws(() => store.verifySync(c.key, ['a:*']), invalid)
  assert.throws(() => store.verifySync(c.key, [], -1), invalid)
  assert.throws(() => store.verifySync(c.key, [], 1.5), invalid)
  assert.throws(() => store.verifySync(c.key, [], '1'), TypeError)
  for (const [options, expected] of [[{ limit: 0 }, invalid], [{ limit: 5000 }, invalid], [{ limit: '10' }, TypeError], [{ cursor: 'garbage' }, invalid], [{ includeRevoked: 1 }, TypeError], [{ nope: 1 }, TypeError]]) {
    assert.throws(() => store.listSync(options), expected, JSON.stringify(options))
  }
  for (const [changes, expected] of [[{ enabled: 'yes' }, TypeError], [{ enabled: null }, TypeError], [{ permissions: null }, TypeError], [{ remaining: -3 }, invalid], [{ expiresAt: 'tomorrow' }, TypeError], [{ nope: 1 }, TypeError], [null, TypeError], [undefined, TypeError]]) {
    assert.throws(() => store.updateSync(c.info.id, changes), expected, JSON.stringify(changes))
  }
  assert.deepEqual(store.getSync(c.info.id), c.info, 'failed updates change nothing')
  assert.throws(() => store.rollSync(c.info.id, -1), invalid)
  assert.throws(() => store.rollSync(c.info.id, '1h'), TypeError)
  for (const [config, expected] of [[{ secretBytes: 4 }, invalid], [{ defaultPermissions: 'r' }, TypeError], [{ maxKeysPerOwner: 0 }, invalid], [{ verifyCacheSize: -1 }, invalid], [{ verifyCacheSize: 1e8 }, invalid], [{ minExpiry: 10, maxExpiry: 5 }, invalid], [{ pepper: 'p' }, TypeError], [{ pepper: { id: 'p', secret: 'not bytes' } }, TypeError], [{ pepper: { id: 'p', secret: Buffer.alloc(4) } }, invalid], [{ busyTimeout: -1 }, invalid], [{ frobnicate: true }, TypeError]]) {
    assert.throws(() => kh.Keyhouse.open(':memory:', config), expected, JSON.stringify(config))
  }
  assert.throws(() => kh.Keyhouse.open(42), TypeError)
  assert.throws(() => kh.Keyhouse.open('/nonexistent/dir/k.db'), { code: 'STORE_ERROR' })
  assert.throws(() => kh.generate('Bad'), invalid)
  assert.throws(() => kh.generate('ok', { secretBytes: 8 }), invalid)
  assert.throws(() => kh.verifyHash(kh.generate().key, 'md5$abc'), invalid)
})
