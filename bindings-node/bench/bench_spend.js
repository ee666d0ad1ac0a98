'use strict'
// A consuming verify (credits, a rate limit, or both) from Node: Keyhouse's
// verifySync against a hand-written better-sqlite3 floor, in one run.
//
//   cd bindings-node/bench && npm install && node bench_spend.js [--calls N]
//
// The floor is the least an exact, cross-process-safe spend costs on SQLite:
// BEGIN IMMEDIATE; SELECT the hash by id; timingSafeEqual; UPDATE ... SET
// remaining = remaining - 1 WHERE id = ? AND remaining >= 1; COMMIT. Both
// stores are WAL files of 1,000 keys with synchronous = NORMAL. Keyhouse
// also checks format, checksum, status and permissions, and for a rate
// limit runs GCRA.
//
// Then leased mode (leaseSize 100): each kind of key beside a plain verify
// (a key with no limits) in the same store, the cost it should stay near.

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const Database = require('better-sqlite3')
const { Keyhouse } = require('..')
const { arg, perCall: timed } = require('./timing')

const KEYS = 1000
const CALLS = arg('--calls', 5000)
const REPEATS = arg('--repeats', 9)
const perCall = (fn) => timed(fn, CALLS, REPEATS)

const CREDITS = 1e12
const HOUR = 3600
const kinds = {
  credits: { remaining: CREDITS },
  rate_limit: { rateLimit: { limit: 1000000, window: HOUR } },
  both: { remaining: CREDITS, rateLimit: { limit: 1000000, window: HOUR } },
}

/**
 * Prints, for each kind of key, the per-call time of a baseline and of
 * `store.verifySync` on that key, side by side in one run (each warmed up once).
 */
function compare(store, keys, [baseName, base], oursName) {
  console.log(`${'key'.padEnd(11)} ${`${baseName} µs`.padStart(9)} ${`${oursName} µs`.padStart(12)} ${`${oursName}/${baseName}`.padStart(15)}`)
  for (const [name, key] of Object.entries(keys)) {
    const ours = () => store.verifySync(key).outcome === 'VALID'
    if (!ours() || !base()) throw new Error(`${name}: setup failed`)
    perCall(base)
    perCall(ours)
    const b = perCall(base) / 1000
    const mine = perCall(ours) / 1000
    console.log(`${name.padEnd(11)} ${b.toFixed(2).padStart(9)} ${mine.toFixed(2).padStart(12)} ${(mine / b).toFixed(2).padStart(14)}x`)
  }
}

function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhouse-spend-'))
  try {
    const kh = Keyhouse.open(path.join(dir, 'keyhouse.db'))
    kh.createManySync(Array.from({ length: KEYS }, () => ({})))
    const keys = Object.fromEntries(Object.entries(kinds).map(([name, o]) => [name, kh.createSync(o).key]))

    const db = new Database(path.join(dir, 'floor.db'))
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.exec('CREATE TABLE keys (id TEXT PRIMARY KEY, hash BLOB NOT NULL, remaining INTEGER)')
    const insert = db.prepare('INSERT INTO keys VALUES (?, ?, ?)')
    const idOf = (key) => key.split('_').slice(-2)[0]
    const sha = (key) => crypto.createHash('sha256').update(key).digest()
    db.transaction(() => {
      for (let i = 0; i < KEYS; i++) insert.run(crypto.randomBytes(16).toString('hex'), sha(String(i)), CREDITS)
      insert.run(idOf(keys.credits), sha(keys.credits), CREDITS)
    })()
    const select = db.prepare('SELECT hash FROM keys WHERE id = ?')
    const spend = db.prepare('UPDATE keys SET remaining = remaining - 1 WHERE id = ? AND remaining >= 1')
    const begin = db.prepare('BEGIN IMMEDIATE')
    const commit = db.prepare('COMMIT')
    const floor = () => {
      const key = keys.credits
      const id = idOf(key)
      begin.run()
      const row = select.get(id)
      const ok = row !== undefined && crypto.timingSafeEqual(row.hash, sha(key)) && spend.run(id).changes === 1
      commit.run()
      return ok
    }

    if (!floor()) throw new Error('floor setup failed')
    compare(kh, keys, ['floor', floor], 'Keyhouse')
    kh.closeSync()
    db.close()

    const leased = Keyhouse.open(path.join(dir, 'keyhouse.db'), { leaseSize: 100 })
    const plainKey = leased.createSync().key
    console.log('\nleased mode (leaseSize 100)')
    compare(leased, keys, ['plain', () => leased.verifySync(plainKey).outcome === 'VALID'], 'leased')
    leased.closeSync()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main()
