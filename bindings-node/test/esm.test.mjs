// The package from an ES module, by name, as users import it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Keyhouse, KeyhouseError, generate } from 'keyhouse'
import { apiKeyAuth } from 'keyhouse/express'
import cjs from 'keyhouse'

test('named ESM imports work', () => {
  const store = Keyhouse.open(':memory:')
  const c = store.createSync()
  assert.equal(store.verifySync(c.key).outcome, 'VALID')
  assert.throws(() => store.getSync('00000000000000'), KeyhouseError)
  assert.equal(typeof generate, 'function')
  assert.equal(typeof apiKeyAuth, 'function')
  assert.equal(cjs.Keyhouse, Keyhouse)
})
