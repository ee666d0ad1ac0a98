'use strict'
// The PostgreSQL store from Node: opening, configuration, async and sync
// verify (the addon's threads run no tokio runtime, so the sync postgres
// client works on both), propagation and failures.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const util = require('node:util')
const kh = require('..')
const { pgUrl, pgSchema, psql } = require('./helpers')

test('a postgres URL opens a store that two instances share', async (t) => {
  const schema = pgSchema(t)
  const a = kh.Keyhouse.open(pgUrl(), { schema, poolSize: 2, maxStaleness: 0.5 })
  const b = kh.Keyhouse.open(pgUrl(), { schema })
  const c = await a.create({ remaining: 3 })
  assert.equal((await b.verify(c.key)).key.remaining, 2)
  assert.equal(a.verifySync(c.key).key.remaining, 1)
  assert.equal((await a.verify(c.key, [], 2)).outcome, 'USAGE_EXCEEDED')
  assert.equal(psql(`SELECT count(*) FROM "${schema}".keys`), '1')
  // A revoke through b reaches a within the bound.
  await b.revoke(c.info.id)
  const start = Date.now()
  while ((await a.verify(c.key)).outcome !== 'REVOKED') {
    assert.ok(Date.now() - start < 2000, 'revoke not seen within 2 s')
    await new Promise((r) => setTimeout(r, 5))
  }
  await a.close()
  await b.close()
})

test('connection failures are STORE_ERROR, in time, without the password', () => {
  const start = Date.now()
  assert.throws(
    () => kh.Keyhouse.open('postgres://app:hunter2secret@127.0.0.1:1/db?sslmode=disable', { connectTimeout: 0.5 }),
    (e) => {
      assert.equal(e.code, 'STORE_ERROR')
      assert.ok(!e.message.includes('hunter2secret') && e.message.includes('app:***@'), e.message)
      assert.ok(!util.inspect(e).includes('hunter2secret'))
      return true
    },
  )
  assert.ok(Date.now() - start < 3000)
  const wrong = pgUrl().replace(/:[^:@/]*@/, ':hunter2secret@')
  assert.throws(() => kh.Keyhouse.open(wrong), (e) => {
    assert.equal(e.code, 'STORE_ERROR')
    assert.ok(!e.message.includes('hunter2secret') && e.message.includes('password authentication failed'), e.message)
    return true
  })
})

test('bad PostgreSQL options are INVALID_ARGUMENT', () => {
  for (const config of [{ schema: 'Bad-Name' }, { poolSize: 0 }, { maxStaleness: 0.001 }, { listenUrl: 5 }]) {
    assert.throws(() => kh.Keyhouse.open(pgUrl(), config), (e) => {
      assert.ok(['INVALID_ARGUMENT'].includes(e.code) || e instanceof TypeError, `${JSON.stringify(config)}: ${e}`)
      return true
    })
  }
})
