'use strict'
// The cross-language conformance vectors, run through the Node binding. Key
// generation from fixed bytes and the scenarios' clock need the test seams,
// which only the test-seams build has (helpers.seamsAddon); the rest runs
// against the package.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const kh = require('..')
const { readVectors, tempDb, seamsAddon, pgUrl, pgSchema } = require('./helpers')

const seams = seamsAddon()
const SEAMS = ['_TestClock', '_openWithClock', '_generateFromBytes']

test('the package has no test seams; the seams build has them', () => {
  for (const name of SEAMS) {
    assert.equal(kh[name], undefined, name)
    assert.equal(typeof seams[name], 'function', name)
  }
})

const FORMAT = readVectors('format.json')
const PARSE = readVectors('parse.json')
const SCENARIOS = readVectors('scenarios.json')
const OUTCOMES = readVectors('outcomes.json')

test('format vectors', () => {
  const pepper = { id: FORMAT.pepper.id, secret: Buffer.from(FORMAT.pepper.secret, 'hex') }
  assert.ok(FORMAT.vectors.length >= 5)
  for (const v of FORMAT.vectors) {
    const random = Buffer.concat([Buffer.from(v.id_bytes, 'hex'), Buffer.from(v.secret_bytes, 'hex')])
    const n = v.secret_bytes.length / 2
    const g = seams._generateFromBytes(v.prefix, random, n)
    assert.deepEqual([g.key, g.id, g.prefix, g.hash], [v.key, v.id, v.prefix, v.hash])
    assert.equal(seams._generateFromBytes(v.prefix, random, n, pepper).hash, v.hash_with_pepper)
    assert.equal(kh.hashKey(v.key), v.hash)
    assert.equal(kh.hashKey(v.key, pepper), v.hash_with_pepper)
    assert.ok(kh.verifyHash(v.key, v.hash_with_pepper, [pepper]))
    assert.deepEqual(kh.parse(v.key), { prefix: v.prefix, id: v.id })
    assert.equal(new RegExp(FORMAT.key_regex).exec(`token: ${v.key}.`)?.[0], v.key)
  }
})

test('outcome vectors: the core\'s HTTP status', () => {
  assert.deepEqual(OUTCOMES.outcomes.map((v) => v.outcome).sort(), Object.values(kh.Outcome).sort())
  for (const v of OUTCOMES.outcomes) assert.equal(kh.httpStatus(v.outcome), v.http_status, v.outcome)
  assert.throws(() => kh.httpStatus('NOPE'))
})

test('parse vectors', () => {
  assert.ok(PARSE.vectors.length >= 40)
  for (const v of PARSE.vectors) {
    if (v.expect === 'VALID') {
      assert.deepEqual(kh.parse(v.input), { prefix: v.prefix, id: v.id }, v.name)
    } else {
      assert.throws(() => kh.parse(v.input), (e) => e instanceof kh.KeyhouseError && e.code === 'MALFORMED' && e.reason === v.expect, v.name)
    }
  }
})

class Runner {
  constructor(scenario, start, path, extra = {}) {
    this.start = start
    this.clock = new seams._TestClock(start)
    this.store = seams._openWithClock(path, this.clock, { ...Runner.config(scenario.config || {}), ...extra })
    this.keys = new Map()
  }

  static config(c) {
    const s = (k) => (k in c ? c[k] / 1000 : undefined)
    return {
      maxKeysPerOwner: c.max_keys_per_owner,
      defaultPermissions: c.default_permissions || [],
      defaultExpiry: s('default_expiry_ms'),
      minExpiry: s('min_expiry_ms'),
      maxExpiry: s('max_expiry_ms'),
    }
  }

  at(offset) {
    return offset == null ? null : new Date(this.start + offset)
  }

  offset(d) {
    return d == null ? null : d.getTime() - this.start
  }

  keyText(ref) {
    return ref.startsWith('literal:') ? ref.slice(8) : this.keys.get(ref)[0]
  }

  keyId(ref) {
    return ref.startsWith('literal:') ? ref.slice(8) : this.keys.get(ref)[1]
  }

  info(i) {
    return {
      id: i.id, prefix: i.prefix, owner_id: i.ownerId ?? null, name: i.name ?? null,
      permissions: i.permissions, metadata: i.metadata, enabled: i.enabled,
      created_at: this.offset(i.createdAt), expires_at: this.offset(i.expiresAt),
      revoked_at: this.offset(i.revokedAt), last_refill_at: this.offset(i.lastRefillAt),
      remaining: i.remaining ?? null, usage_count: i.usageCount,
    }
  }

  createOptions(o) {
    const out = {}
    for (const [from, to] of [['owner_id', 'ownerId'], ['name', 'name'], ['prefix', 'prefix'], ['permissions', 'permissions'], ['metadata', 'metadata'], ['remaining', 'remaining']]) {
      if (from in o) out[to] = o[from]
    }
    if ('expires_in_ms' in o) out.expiresIn = o.expires_in_ms / 1000
    if ('expires_at' in o) out.expiresAt = this.at(o.expires_at)
    if ('refill' in o) out.refill = { amount: o.refill.amount, interval: o.refill.interval_ms / 1000 }
    if ('rate_limit' in o) out.rateLimit = { limit: o.rate_limit.limit, window: o.rate_limit.window_ms / 1000 }
    return out
  }

  updateOptions(o) {
    const out = {}
    for (const k of ['name', 'enabled', 'permissions', 'metadata', 'remaining']) if (k in o) out[k] = o[k]
    if ('expires_at' in o) out.expiresAt = this.at(o.expires_at)
    if ('refill' in o) out.refill = o.refill && { amount: o.refill.amount, interval: o.refill.interval_ms / 1000 }
    if ('rate_limit' in o) out.rateLimit = o.rate_limit && { limit: o.rate_limit.limit, window: o.rate_limit.window_ms / 1000 }
    return out
  }

  step(s) {
    const ref = s.key || ''
    switch (s.op) {
      case 'create':
      case 'roll': {
        const created = s.op === 'create' ? this.store.createSync(this.createOptions(s.options)) : this.store.rollSync(this.keyId(ref), s.grace_ms / 1000)
        if (s.save_as) this.keys.set(s.save_as, [created.key, created.info.id])
        return this.info(created.info)
      }
      case 'verify': {
        const r = this.store.verifySync(this.keyText(ref), s.permissions || [], s.cost ?? 1)
        return {
          outcome: r.outcome,
          malformed_reason: r.malformedReason ?? null,
          retry_after_ms: r.retryAfter == null ? null : Math.round(r.retryAfter * 1000),
          rate_limit_remaining: r.rateLimit ? r.rateLimit.remaining : null,
          remaining: r.key ? r.key.remaining ?? null : null,
        }
      }
      case 'get': return this.info(this.store.getSync(this.keyId(ref)))
      case 'update': return this.info(this.store.updateSync(this.keyId(ref), this.updateOptions(s.options)))
      case 'revoke': return this.info(this.store.revokeSync(this.keyId(ref)))
      case 'delete': this.store.deleteSync(this.keyId(ref)); return {}
      case 'purge_expired': return { purged: this.store.purgeExpiredSync() }
      default: throw new Error(`unknown op ${s.op}`)
    }
  }

  run(scenario) {
    scenario.steps.forEach((s, n) => {
      const ctx = `${scenario.name} step ${n} (${s.op})`
      this.clock.set(this.start + s.at)
      const expect = s.expect || {}
      let got
      try {
        got = this.step(s)
      } catch (e) {
        if (!(e instanceof seams.KeyhouseError)) throw e
        assert.equal(e.code, expect.error, `${ctx}: ${e.message}`)
        return
      }
      assert.ok(!('error' in expect), `${ctx}: expected ${expect.error}, got ${JSON.stringify(got)}`)
      for (const [field, want] of Object.entries(expect)) assert.deepEqual(got[field] ?? null, want, `${ctx}: ${field}`)
    })
    this.store.closeSync()
  }
}

for (const scenario of SCENARIOS.scenarios) {
  for (const where of ['memory', 'file']) {
    test(`scenario ${scenario.name} (${where})`, (t) => {
      new Runner(scenario, SCENARIOS.start, where === 'memory' ? ':memory:' : tempDb(t)).run(scenario)
    })
  }
  test(`scenario ${scenario.name} (postgres)`, (t) => {
    new Runner(scenario, SCENARIOS.start, pgUrl(), { schema: pgSchema(t) }).run(scenario)
  })
}
