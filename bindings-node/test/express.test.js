'use strict'
// The Express middleware, through real HTTP requests to a server on 127.0.0.1.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const express = require('express')
const kh = require('..')
const { apiKeyAuth, checkRequest } = require('../express')

const store = kh.Keyhouse.open(':memory:')
let server
let base

before(async () => {
  const app = express()
  app.get('/files', apiKeyAuth(store, { permissions: ['files:read'] }), (req, res) => res.json({ id: req.apiKey.id, owner: req.apiKey.ownerId ?? null }))
  app.get('/any', apiKeyAuth(store, { sync: false, property: 'key' }), (req, res) => res.json({ id: req.key.id }))
  await new Promise((resolve) => {
    server = app.listen(0, '127.0.0.1', resolve)
  })
  base = `http://127.0.0.1:${server.address().port}`
})

after(() => new Promise((resolve) => server.close(resolve)))

const get = (path, headers = {}) => fetch(base + path, { headers })

test('a valid key reaches the route, by header or bearer token', async () => {
  const c = store.createSync({ ownerId: 'u1', permissions: ['files:*'] })
  for (const headers of [{ 'X-API-Key': c.key }, { Authorization: `Bearer ${c.key}` }]) {
    const r = await get('/files', headers)
    assert.equal(r.status, 200)
    assert.deepEqual(await r.json(), { id: c.info.id, owner: 'u1' })
  }
  assert.equal((await get('/any', { 'x-api-key': c.key })).status, 200)
})

test('a missing key is 401 with a challenge', async () => {
  for (const headers of [{}, { 'X-API-Key': '' }, { Authorization: 'Basic abc' }, { Authorization: 'Bearer ' }]) {
    const r = await get('/files', headers)
    assert.equal(r.status, 401)
    assert.match(r.headers.get('www-authenticate'), /Bearer/)
  }
})

test('bad keys are 401, missing permissions 403', async () => {
  const revoked = store.createSync({ permissions: ['files:read'] })
  store.revokeSync(revoked.info.id)
  const disabled = store.createSync({ permissions: ['files:read'] })
  store.updateSync(disabled.info.id, { enabled: false })
  const cases = [['garbage', 'MALFORMED'], [kh.generate().key, 'NOT_FOUND'], [revoked.key, 'REVOKED'], [disabled.key, 'DISABLED']]
  for (const [key, error] of cases) {
    const r = await get('/files', { 'X-API-Key': key })
    assert.deepEqual([r.status, (await r.json()).error], [401, error])
  }
  const other = store.createSync({ permissions: ['billing:read'] })
  const r = await get('/files', { 'X-API-Key': other.key })
  assert.deepEqual([r.status, (await r.json()).error], [403, 'INSUFFICIENT_PERMISSIONS'])
})

test('limits are 429 with Retry-After', async () => {
  const limited = store.createSync({ permissions: ['files:read'], rateLimit: { limit: 1, window: 30 } })
  assert.equal((await get('/files', { 'X-API-Key': limited.key })).status, 200)
  const r = await get('/files', { 'X-API-Key': limited.key })
  assert.equal(r.status, 429)
  assert.equal((await r.json()).error, 'RATE_LIMITED')
  const retry = Number(r.headers.get('retry-after'))
  assert.ok(retry >= 1 && retry <= 30, String(retry))
  const spent = store.createSync({ permissions: ['files:read'], remaining: 0 })
  const s = await get('/files', { 'X-API-Key': spent.key })
  assert.deepEqual([s.status, (await s.json()).error], [429, 'USAGE_EXCEEDED'])
  // No refill brings credits back: a day-long hint.
  assert.equal(Number(s.headers.get('retry-after')), 86400)
  // With a refill, the core says when it is due.
  const refilled = store.createSync({ permissions: ['files:read'], remaining: 0, refill: { amount: 5, interval: 30 } })
  const f = await get('/files', { 'X-API-Key': refilled.key })
  assert.deepEqual([f.status, (await f.json()).error], [429, 'USAGE_EXCEEDED'])
  const wait = Number(f.headers.get('retry-after'))
  assert.ok(wait >= 1 && wait <= 30, String(wait))
})

test('checkRequest works without Express', async () => {
  const c = store.createSync()
  assert.equal((await checkRequest(store, { 'x-api-key': c.key })).key.id, c.info.id)
  assert.equal((await checkRequest(store, {})).status, 401)
})

test('no client input gets a 500, not even a key whose pepper was dropped', async () => {
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kh-express-'))
  const db = path.join(dir, 'k.db')
  const old = kh.Keyhouse.open(db, { pepper: { id: 'p1', secret: Buffer.alloc(32, 7) } })
  const dropped = old.createSync().key
  old.closeSync()
  const service = kh.Keyhouse.open(db) // no longer knows pepper p1
  const app = express()
  app.get('/x', apiKeyAuth(service), (req, res) => res.json({ id: req.apiKey.id }))
  const srv = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  const url = `http://127.0.0.1:${srv.address().port}/x`
  try {
    const forged = dropped.slice(0, -10) + 'A'.repeat(10)
    for (const value of [dropped, forged, 'k'.repeat(10000), 'kh_' + '_'.repeat(200), 'kh_\u00ff\u00fe', 'Bearer']) {
      for (const headers of [{ 'X-API-Key': value }, { Authorization: `Bearer ${value}` }]) {
        const r = await fetch(url, { headers })
        assert.equal(r.status, 401, `${value.slice(0, 20)}: ${r.status}`)
      }
    }
  } finally {
    await new Promise((resolve) => srv.close(resolve))
    service.closeSync()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
