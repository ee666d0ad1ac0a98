'use strict'
// One database file, many worker threads verifying and creating at once.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Worker } = require('node:worker_threads')
const path = require('node:path')
const kh = require('..')
const { tempDb } = require('./helpers')

const WORKERS = 4
const ROUNDS = 300
// More credits than WORKERS - 1 workers can take, so every worker must win some
// however the threads are scheduled, and fewer than all attempts, so some fail.
const CREDITS = 1000

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const kh = require(workerData.module)
const store = kh.Keyhouse.open(workerData.db)
// Start together, so the workers really contend.
const ready = new Int32Array(workerData.ready)
Atomics.add(ready, 0, 1)
while (Atomics.load(ready, 0) < workerData.workers) Atomics.wait(ready, 0, Atomics.load(ready, 0), 10)
const counts = { valid: 0, exceeded: 0, created: 0, plainValid: 0 }
;(async () => {
  for (let i = 0; i < workerData.rounds; i++) {
    const plain = i % 2 ? store.verifySync(workerData.plain) : await store.verify(workerData.plain)
    if (plain.outcome === 'VALID') counts.plainValid++
    const quota = store.verifySync(workerData.quota)
    if (quota.outcome === 'VALID') counts.valid++
    else if (quota.outcome === 'USAGE_EXCEEDED') counts.exceeded++
    else throw new Error('unexpected ' + quota.outcome)
    if (i % 30 === 0) { await store.create({ ownerId: 'worker' }); counts.created++ }
  }
  await store.close()
  parentPort.postMessage(counts)
})().catch((e) => { throw e })
`

test('worker threads share one store file exactly', async (t) => {
  const db = tempDb(t)
  const store = kh.Keyhouse.open(db)
  const plain = store.createSync().key
  const quota = store.createSync({ remaining: CREDITS }).key
  const module = path.resolve(__dirname, '..')
  const ready = new SharedArrayBuffer(4)
  const results = await Promise.all(
    Array.from({ length: WORKERS }, () => new Promise((resolve, reject) => {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, db, plain, quota, rounds: ROUNDS, ready, workers: WORKERS } })
      w.once('message', resolve)
      w.once('error', reject)
    })),
  )
  const sum = (k) => results.reduce((n, r) => n + r[k], 0)
  assert.equal(sum('plainValid'), WORKERS * ROUNDS)
  assert.equal(sum('valid'), CREDITS)
  assert.equal(sum('exceeded'), WORKERS * ROUNDS - CREDITS)
  assert.ok(results.every((r) => r.valid >= CREDITS - (WORKERS - 1) * ROUNDS), 'every worker won some credits')
  assert.equal(store.getSync(kh.parse(plain).id).usageCount, WORKERS * ROUNDS)
  assert.equal(store.getSync(kh.parse(quota).id).remaining, 0)
  assert.equal(store.listSync({ ownerId: 'worker', limit: 1000 }).keys.length, sum('created'))
  store.closeSync()
})

test('errors keep their class inside a worker', async () => {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const kh = require(workerData.module)
    try { kh.parse('nope') } catch (e) { parentPort.postMessage([e instanceof kh.KeyhouseError, e.code, e.reason]) }
  `
  const got = await new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: { module: path.resolve(__dirname, '..') } })
    w.once('message', resolve)
    w.once('error', reject)
  })
  assert.deepEqual(got, [true, 'MALFORMED', 'MISSING_SEPARATOR'])
})
