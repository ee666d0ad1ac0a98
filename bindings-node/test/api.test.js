'use strict'
// The whole API, async and sync.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const util = require('node:util')
const kh = require('..')
const { tempDb } = require('./helpers')

const open = () => kh.Keyhouse.open(':memory:')

test('create returns the key once, hidden from logs and JSON', async () => {
  const store = open()
  const c = await store.create({
    ownerId: 'team-1', name: 'deploy', prefix: 'acme_live', expiresIn: 86400,
    permissions: ['files:*'], metadata: { plan: 'pro', seats: 5, tags: ['a'], nested: { x: null } },
    remaining: 10, refill: { amount: 10, interval: 3600 }, rateLimit: { limit: 100, window: 60 },
  })
  assert.ok(c.key.startsWith('acme_live_'))
  assert.ok(!util.inspect(c).includes(c.key))
  assert.ok(!JSON.stringify(c).includes(c.key))
  const info = c.info
  assert.equal(info.ownerId, 'team-1')
  assert.deepEqual(info.metadata, { plan: 'pro', seats: 5, tags: ['a'], nested: { x: null } })
  assert.ok(info.createdAt instanceof Date)
  assert.equal(info.expiresAt - info.createdAt, 86400 * 1000)
  assert.deepEqual(info.refill, { amount: 10, interval: 3600 })
  assert.deepEqual(info.rateLimit, { limit: 100, window: 60 })
  assert.deepEqual(await store.get(info.id), info)
  assert.deepEqual(store.getSync(info.id), info)
  await store.close()
})

test('verify, async and sync, with every outcome', async () => {
  const store = open()
  const c = store.createSync({ permissions: ['files:read'], remaining: 2 })
  const r = await store.verify(c.key, ['files:read'])
  assert.equal(r.outcome, 'VALID')
  assert.equal(r.key.remaining, 1)
  assert.equal(store.verifySync(c.key, ['files:read'], 1).key.remaining, 0)
  assert.equal(store.verifySync(c.key).outcome, 'USAGE_EXCEEDED')
  assert.equal(store.verifySync(c.key, ['files:write']).outcome, 'INSUFFICIENT_PERMISSIONS')
  const typo = c.key.slice(0, -1) + (c.key.endsWith('A') ? 'B' : 'A')
  const malformed = store.verifySync(typo)
  assert.deepEqual([malformed.outcome, malformed.malformedReason, malformed.key], ['MALFORMED', 'CHECKSUM_MISMATCH', undefined])
  assert.equal(store.verifySync(kh.generate().key).outcome, 'NOT_FOUND')
  await store.revoke(c.info.id)
  const revoked = await store.verify(c.key)
  assert.equal(revoked.outcome, 'REVOKED')
  assert.ok(revoked.key.revokedAt instanceof Date)
})

test('rate limits report retryAfter in seconds', () => {
  const store = open()
  const c = store.createSync({ rateLimit: { limit: 1, window: 30 } })
  assert.equal(store.verifySync(c.key).rateLimit.remaining, 0)
  const r = store.verifySync(c.key)
  assert.equal(r.outcome, 'RATE_LIMITED')
  assert.ok(r.retryAfter > 29 && r.retryAfter <= 30, String(r.retryAfter))
  assert.ok(r.rateLimit.resetAt > new Date())
})

test('list paginates and filters', async () => {
  const store = open()
  const ids = []
  for (let i = 0; i < 7; i++) ids.push(store.createSync({ ownerId: i % 2 ? 'a' : 'b' }).info.id)
  const seen = []
  let cursor
  do {
    const page = await store.list({ limit: 3, cursor })
    assert.ok(page.keys.length <= 3)
    seen.push(...page.keys.map((k) => k.id))
    cursor = page.nextCursor
  } while (cursor)
  assert.deepEqual([...seen].sort(), [...ids].sort())
  assert.ok(store.listSync({ ownerId: 'a' }).keys.every((k) => k.ownerId === 'a'))
  store.revokeSync(ids[0])
  assert.ok(!store.listSync().keys.some((k) => k.id === ids[0]))
  assert.ok(store.listSync({ includeRevoked: true }).keys.some((k) => k.id === ids[0]))
})

test('update sets, and null clears', async () => {
  const store = open()
  const c = store.createSync({ name: 'old', remaining: 5, rateLimit: { limit: 5, window: 1 } })
  const i = await store.update(c.info.id, { name: null, remaining: null, rateLimit: null, enabled: false, metadata: { k: 1 } })
  assert.equal(i.name, undefined)
  assert.equal(i.remaining, undefined)
  assert.equal(i.rateLimit, undefined)
  assert.equal(i.enabled, false)
  assert.deepEqual(i.metadata, { k: 1 })
  assert.equal(store.verifySync(c.key).outcome, 'DISABLED')
  const later = new Date(Date.now() + 86400000)
  const j = store.updateSync(c.info.id, { enabled: true, permissions: ['a:b'], expiresAt: later, name: undefined })
  assert.equal(j.expiresAt.getTime(), later.getTime())
  assert.equal(store.updateSync(c.info.id, { expiresAt: null }).expiresAt, undefined)
})

test('roll, delete and purge', async () => {
  const store = open()
  const c = store.createSync({ name: 'k', expiresIn: 3600 })
  const rolled = await store.roll(c.info.id, 0)
  assert.equal(rolled.info.name, 'k')
  assert.equal(store.verifySync(c.key).outcome, 'EXPIRED')
  assert.equal(store.verifySync(rolled.key).outcome, 'VALID')
  assert.equal(await store.purgeExpired(), 1)
  await assert.rejects(store.get(c.info.id), (e) => e instanceof kh.KeyhouseError && e.code === 'NOT_FOUND')
  await store.delete(rolled.info.id)
  assert.throws(() => store.deleteSync(rolled.info.id), { code: 'NOT_FOUND' })
})

test('createMany is all or nothing', async () => {
  const store = open()
  const made = await store.createMany([{ ownerId: 'x' }, { name: 'two' }])
  assert.deepEqual(made.map((m) => m.info.name ?? null), [null, 'two'])
  await assert.rejects(store.createMany([{ ownerId: 'y' }, { prefix: 'BAD' }]), { code: 'INVALID_ARGUMENT' })
  assert.equal(store.listSync({ ownerId: 'y' }).keys.length, 0)
  assert.equal(store.createManySync([{}, {}, {}]).length, 3)
})

test('rehashOnVerify: false leaves the stored hash as it was', (t) => {
  const db = tempDb(t)
  const p1 = { id: 'p1', secret: Buffer.alloc(32, 1) }
  const p2 = { id: 'p2', secret: Buffer.alloc(32, 2) }
  const old = kh.Keyhouse.open(db, { pepper: p1 })
  const key = old.createSync().key
  const rotating = (rehashOnVerify) => kh.Keyhouse.open(db, { pepper: p2, previousPeppers: [p1], rehashOnVerify })
  const off = rotating(false)
  assert.equal(off.verifySync(key).outcome, 'VALID')
  off.closeSync()
  // Still hashed with p1: a store that knows only p1 accepts it.
  assert.equal(old.verifySync(key).outcome, 'VALID')
  const on = rotating(true)
  assert.equal(on.verifySync(key).outcome, 'VALID')
  on.closeSync()
  assert.equal(old.verifySync(key).outcome, 'NOT_FOUND')
  old.closeSync()
  assert.throws(() => kh.Keyhouse.open(':memory:', { rehashOnVerify: 'no' }), TypeError)
})

test('owner key limit, config defaults, peppers', () => {
  const pepper = { id: 'p1', secret: Buffer.alloc(32, 7) }
  const store = kh.Keyhouse.open(':memory:', { maxKeysPerOwner: 1, defaultPrefix: 'svc', defaultPermissions: ['r'], defaultExpiry: 60, pepper })
  const c = store.createSync({ ownerId: 'o' })
  assert.equal(c.info.prefix, 'svc')
  assert.deepEqual(c.info.permissions, ['r'])
  assert.equal(c.info.expiresAt - c.info.createdAt, 60000)
  assert.throws(() => store.createSync({ ownerId: 'o' }), { name: 'KeyhouseError', code: 'KEY_LIMIT_EXCEEDED' })
  assert.equal(store.verifySync(c.key, ['r']).outcome, 'VALID')
})

test('leaseSize leases credits and gives them back on close', async (t) => {
  const db = tempDb(t)
  const admin = kh.Keyhouse.open(db)
  const c = admin.createSync({ remaining: 100 })
  const leased = kh.Keyhouse.open(db, { leaseSize: 10, leaseIdle: 30 })
  assert.equal(leased.verifySync(c.key).key.remaining, 99)
  // Nine more are leased out of the store, and spent from memory.
  assert.equal(admin.getSync(c.info.id).remaining, 90)
  for (let n = 98; n >= 90; n--) assert.equal((await leased.verify(c.key)).key.remaining, n)
  assert.equal(leased.verifySync(c.key).key.remaining, 89)
  await leased.close()
  assert.equal(admin.getSync(c.info.id).remaining, 89)
  admin.closeSync()
  for (const bad of [{ leaseSize: 0 }, { leaseSize: 100001 }, { leaseIdle: 0.001 }]) {
    assert.throws(() => kh.Keyhouse.open(':memory:', bad), { code: 'INVALID_ARGUMENT' })
  }
})

test('close flushes; later calls fail with CLOSED', async (t) => {
  const path = tempDb(t)
  const store = kh.Keyhouse.open(path, { usageFlushInterval: 3600 })
  const c = store.createSync()
  for (let i = 0; i < 5; i++) store.verifySync(c.key)
  await store.close()
  assert.throws(() => store.getSync(c.info.id), { code: 'CLOSED' })
  await assert.rejects(store.verify(c.key), { code: 'CLOSED' })
  const again = kh.Keyhouse.open(path)
  assert.equal(again.getSync(c.info.id).usageCount, 5)
  again.closeSync()
})

test('stateless functions', () => {
  const g = kh.generate('acme_live')
  assert.ok(!util.inspect(g).includes(g.key))
  assert.deepEqual(JSON.parse(JSON.stringify(g)), { id: g.id, prefix: 'acme_live', hash: g.hash })
  assert.deepEqual(kh.parse(g.key), { prefix: 'acme_live', id: g.id })
  assert.equal(kh.hashKey(g.key), g.hash)
  assert.ok(kh.verifyHash(g.key, g.hash))
  assert.ok(!kh.verifyHash(kh.generate().key, g.hash))
  const short = kh.generate('a', { secretBytes: 16 }).key
  const long = kh.generate('a', { secretBytes: 64 }).key
  assert.equal(long.length - short.length, 86 - 22)
  const pepper = { id: 'p1', secret: new Uint8Array(32) }
  const h = kh.generate('x', { pepper })
  assert.ok(h.hash.startsWith('hmac-sha256$p1$'))
  assert.throws(() => kh.verifyHash(h.key, h.hash), { code: 'UNKNOWN_PEPPER' })
})

test('null and undefined in the config mean the default, as None does in Python', () => {
  const names = ['defaultPrefix', 'secretBytes', 'pepper', 'previousPeppers', 'defaultPermissions', 'defaultExpiry',
    'minExpiry', 'maxExpiry', 'maxKeysPerOwner', 'usageFlushInterval', 'busyTimeout']
  for (const empty of [null, undefined]) {
    const store = kh.Keyhouse.open(':memory:', Object.fromEntries(names.map((n) => [n, empty])))
    assert.ok(store.createSync().key.startsWith('kh_'))
    store.closeSync()
  }
})

test('a key passed where an id belongs is refused without echoing it', () => {
  const store = open()
  const key = store.createSync().key
  const secret = key.slice(key.lastIndexOf('_') + 1)
  for (const call of [(v) => store.getSync(v), (v) => store.revokeSync(v), (v) => store.deleteSync(v), (v) => store.rollSync(v)]) {
    assert.throws(() => call(key), (e) => e.code === 'INVALID_ARGUMENT' && /looks like a key/.test(e.message) && !e.message.includes(secret.slice(0, 8)))
  }
  assert.equal(store.verifySync(key).outcome, 'VALID')
})
