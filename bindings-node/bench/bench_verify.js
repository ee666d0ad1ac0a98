'use strict'
// Keyhouse verifySync and verify against a hand-written JS baseline, in one run.
//
//   cd bindings-node/bench && npm install && node bench_verify.js [--keys N]
//
// The baseline does the least a Node service would: node:crypto sha256 of
// the key, a better-sqlite3 SELECT of the stored hash by id, and
// crypto.timingSafeEqual, on a WAL-mode SQLite file of the same size.
// Keyhouse also checks format and checksum, status, permissions and usage.

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const Database = require('better-sqlite3')
const { Keyhouse } = require('..')
const { arg, median, perCall: timed } = require('./timing')

const KEYS = arg('--keys', 10000)
const CALLS = arg('--calls', 20000)
const REPEATS = arg('--repeats', 15)

const perCall = (fn) => timed(fn, CALLS, REPEATS)

async function perCallAsync(fn, calls = CALLS / 10) {
  const samples = []
  for (let r = 0; r < REPEATS; r++) {
    const t = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) await fn()
    samples.push(Number(process.hrtime.bigint() - t) / calls)
  }
  return median(samples)
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhouse-bench-'))
  try {
    const kh = Keyhouse.open(path.join(dir, 'keyhouse.db'))
    const created = kh.createManySync(Array.from({ length: KEYS }, () => ({})))
    const key = created[created.length >> 1].key

    const db = new Database(path.join(dir, 'baseline.db'))
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL)')
    const insert = db.prepare('INSERT INTO keys VALUES (?, ?)')
    db.transaction(() => {
      for (const c of created) insert.run(c.info.id, crypto.createHash('sha256').update(c.key).digest('hex'))
    })()
    const select = db.prepare('SELECT hash FROM keys WHERE id = ?')

    const baseline = () => {
      const parts = key.split('_')
      const id = parts[parts.length - 2]
      const digest = Buffer.from(crypto.createHash('sha256').update(key).digest('hex'))
      const row = select.get(id)
      return row !== undefined && crypto.timingSafeEqual(Buffer.from(row.hash), digest)
    }
    const sync = () => kh.verifySync(key).outcome === 'VALID'
    const async = async () => (await kh.verify(key)).outcome === 'VALID'

    if (!baseline() || !sync() || !(await async())) throw new Error('setup failed')
    perCall(baseline)
    perCall(sync)
    const base = perCall(baseline)
    const ours = perCall(sync)
    const ourAsync = await perCallAsync(async)
    kh.closeSync()
    db.close()

    const us = (ns) => (ns / 1000).toFixed(2).padStart(8)
    console.log(`store size                 ${KEYS} keys (WAL file)`)
    console.log(`JS baseline                ${us(base)} µs per verify (median of ${REPEATS} x ${CALLS})`)
    console.log(`Keyhouse verifySync        ${us(ours)} µs per verify`)
    console.log(`Keyhouse verify (async)    ${us(ourAsync)} µs per verify, awaited one at a time`)
    console.log(`verifySync speed-up        ${(base / ours).toFixed(2).padStart(8)}x`)
    console.log(`async / baseline           ${(base / ourAsync).toFixed(2).padStart(8)}x`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
