'use strict'
// keyhouse/client against keyRouter in this process, over real HTTP, and
// keyRouter's own options: the owner callback, the policy, onEvent, and a
// body that express.json() already read.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const express = require('express')
const kh = require('..')
const { keyRouter } = require('../express')
const { createKeyClient, KeyhouseError } = require('../client')
const { tempDb } = require('./helpers')

async function serve(t, options, setup = () => {}) {
  const store = kh.Keyhouse.open(tempDb(t), { maxKeysPerOwner: 3 })
  const app = express()
  setup(app)
  app.use('/api', keyRouter(store, { owner: (req) => req.headers['x-user'] ?? null, ...options }))
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  t.after(() => new Promise((resolve) => server.close(resolve)).then(() => store.close()))
  const baseURL = `http://127.0.0.1:${server.address().port}/api`
  const as = (user) => createKeyClient({ baseURL, headers: user ? { 'x-user': user } : {} })
  return { store, as, baseURL }
}

test('every client method, with dates as Date', async (t) => {
  const { store, as } = await serve(t, { permissions: ['read', 'write'], allowDelete: true, maxExpiresIn: 3600 })
  const client = as('alice')
  const created = await client.create({ name: 'Production API', permissions: ['read'], metadata: { env: 'prod' } })
  assert.equal(store.verifySync(created.key).outcome, 'VALID')
  assert.ok(created.createdAt instanceof Date && created.expiresAt instanceof Date)
  assert.equal(created.revokedAt, null)
  assert.equal(created.expiresAt - created.createdAt, 3600 * 1000)

  const page = await client.list()
  assert.deepEqual(page.keys.map((k) => k.id), [created.id])
  assert.equal(page.nextCursor, null)
  assert.equal('key' in page.keys[0], false)
  assert.equal((await client.get(created.id)).name, 'Production API')
  assert.equal((await client.update(created.id, { name: 'renamed' })).name, 'renamed')

  const rolled = await client.roll(created.id, { grace: 60 })
  assert.notEqual(rolled.key, created.key)
  assert.equal(store.verifySync(rolled.key).outcome, 'VALID')
  const revoked = await client.revoke(rolled.id)
  assert.ok(revoked.revokedAt instanceof Date)
  assert.equal(revoked.status, 'revoked')
  assert.equal(await client.delete(created.id), undefined)
  assert.deepEqual((await client.list({ includeRevoked: true })).keys.map((k) => k.id), [rolled.id])
})

test('failures throw KeyhouseError with code and status', async (t) => {
  const { as } = await serve(t, { permissions: ['read'] })
  const expect = async (promise, code, status) => {
    await assert.rejects(promise, (err) => err instanceof KeyhouseError && err.code === code && err.status === status)
  }
  await expect(as('alice').create({ permissions: ['*'] }), 'INVALID_ARGUMENT', 400)
  await expect(as(null).list(), 'UNAUTHENTICATED', 401)
  await expect(as('bob').get('AAAAAAAAAAAAAA'), 'NOT_FOUND', 404)
  await expect(as('bob').delete('AAAAAAAAAAAAAA'), 'METHOD_NOT_ALLOWED', 405)
  for (let i = 0; i < 3; i++) await as('carol').create()
  await expect(as('carol').create(), 'KEY_LIMIT_EXCEEDED', 409)
  await expect(createKeyClient({ baseURL: 'http://127.0.0.1:1' }).list(), 'NETWORK_ERROR', 0)
})

test('keyRouter refuses a bad setup when it is mounted, not on the first request', (t) => {
  const store = kh.Keyhouse.open(tempDb(t))
  t.after(() => store.closeSync())
  assert.throws(() => keyRouter(store, {}), TypeError)
  assert.throws(() => keyRouter(store, { owner: () => 'a', permisions: ['read'] }), (e) => e.code === 'INVALID_ARGUMENT')
  assert.throws(() => keyRouter(store, { owner: () => 'a', permissions: ['*'] }), (e) => e.code === 'INVALID_ARGUMENT')
  assert.throws(() => keyRouter(store, { owner: () => 'a', permissions: ['read'], defaultPermissions: ['write'] }),
    (e) => e.code === 'INVALID_ARGUMENT')
})

test('onEvent gets each change without the key, and its failure does not lose the answer', async (t) => {
  const events = []
  const { as } = await serve(t, {
    permissions: ['read'],
    allowDelete: true,
    onEvent: async (e) => {
      events.push(e)
      throw new Error('the audit log is down')
    },
  })
  const client = as('alice')
  const original = console.error
  console.error = () => {}
  try {
    const created = await client.create()
    const rolled = await client.roll(created.id)
    await client.revoke(rolled.id)
    await client.revoke(rolled.id)
    await client.delete(rolled.id)
    assert.deepEqual(events.map((e) => [e.type, e.keyId, e.newKeyId]), [
      ['created', created.id, null],
      ['rolled', created.id, rolled.id],
      ['revoked', rolled.id, null],
      ['deleted', rolled.id, null],
    ])
    assert.ok(events.every((e) => e.ownerId === 'alice' && e.at instanceof Date))
    assert.ok(!JSON.stringify(events).includes(created.key) && !JSON.stringify(events).includes(rolled.key))
  } finally {
    console.error = original
  }
})

test('a body express.json() already read, and routes beside the router', async (t) => {
  const { as, baseURL } = await serve(t, { permissions: ['read'] }, (app) => {
    app.use(express.json())
    app.get('/api/other', (req, res) => res.json({ other: true }))
  })
  const created = await as('alice').create({ name: 'parsed upstream' })
  assert.equal(created.name, 'parsed upstream')
  assert.deepEqual(await (await fetch(baseURL + '/other')).json(), { other: true })
})

test('the ESM client imports without a bundler', async () => {
  const esm = await import('../client.mjs')
  assert.equal(typeof esm.createKeyClient, 'function')
  assert.equal(esm.KeyhouseError.name, 'KeyhouseError')
})

/** An app with `before` in front of a keyRouter at /api, listening on 127.0.0.1. */
async function appWith(t, store, before, owner = (req) => req.headers['x-user'] ?? null) {
  const app = express()
  before(app)
  app.use('/api', keyRouter(store, { owner, permissions: ['read'] }))
  app.use((err, req, res, next) => res.status(500).json({ failed: err.message }))
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  t.after(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${server.address().port}/api`
}

test('owner ids: strings and integers; anything else is the app\'s error, never a shared owner', async (t) => {
  const store = kh.Keyhouse.open(tempDb(t))
  t.after(() => store.closeSync())
  const numeric = await appWith(t, store, () => {}, () => 42)
  const created = await createKeyClient({ baseURL: numeric }).create()
  assert.equal(store.getSync(created.id).ownerId, '42')
  const objects = await appWith(t, store, () => {}, (req) => ({ id: req.headers['x-user'] }))
  const r = await fetch(objects + '/keys', { headers: { 'x-user': 'mallory' } })
  assert.equal(r.status, 500)
  assert.match((await r.json()).failed, /owner must return/)
})

test('a body some middleware read first: used as it is, or an error, never an empty body', async (t) => {
  const store = kh.Keyhouse.open(tempDb(t))
  t.after(() => store.closeSync())
  const post = (base) => fetch(base + '/keys', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user': 'alice' },
    body: JSON.stringify({ name: 'named' }),
  })
  for (const parser of [express.raw({ type: 'application/json' }), express.text({ type: 'application/json' })]) {
    const base = await appWith(t, store, (app) => app.use(parser))
    const r = await post(base)
    assert.equal(r.status, 201)
    assert.equal((await r.json()).name, 'named')
  }
  const drained = await appWith(t, store, (app) => app.use((req, res, next) => { req.on('end', next); req.resume() }))
  const r = await post(drained)
  assert.equal(r.status, 500)
  assert.match((await r.json()).failed, /mount keyRouter before/)
  assert.equal(store.listSync({ ownerId: 'alice' }).keys.length, 2)
})
