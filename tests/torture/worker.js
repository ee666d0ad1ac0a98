// A torture-test worker in Node: the same modes and output as worker.py.
//   node worker.js MODE DB [KEY ...]
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { Keyhouse } = require(path.join(__dirname, '..', '..', 'bindings-node'))

const [mode, db, ...keys] = process.argv.slice(2)
const deadline = Number(process.env.TORTURE_DEADLINE) * 1000
const reopen = Number(process.env.TORTURE_REOPEN || 0)
const log = process.env.TORTURE_LOG ? fs.openSync(process.env.TORTURE_LOG, 'a') : null
const options = process.env.TORTURE_SCHEMA ? { schema: process.env.TORTURE_SCHEMA } : {}
if (process.env.TORTURE_LEASE) options.leaseSize = Number(process.env.TORTURE_LEASE)
const counts = {}
const count = (k) => { counts[k] = (counts[k] || 0) + 1 }
// Wall-clock nanoseconds, comparable with Python's time.time_ns().
const nowNs = () => BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1e6))

if (mode === 'churn') {
  while (Date.now() < deadline) {
    const kh = Keyhouse.open(db, options)
    count(kh.verifySync(keys[0]).outcome)
    kh.closeSync()
  }
  console.log(JSON.stringify(counts))
} else {
  let kh = Keyhouse.open(db, options)
  let n = 0
  while (Date.now() < deadline) {
    if (mode === 'create') {
      fs.writeSync(log, kh.createSync().key + '\n')
      continue
    }
    const i = n % keys.length
    const start = nowNs()
    const outcome = kh.verifySync(keys[i]).outcome
    n += 1
    count(`${i}:${outcome}`)
    if (mode === 'spendlog' && outcome === 'VALID') fs.writeSync(log, 'V\n')
    else if (mode === 'ratelog' && outcome === 'VALID') fs.writeSync(log, `${start} ${nowNs()}\n`)
    else if (mode === 'watch') fs.writeSync(log, `${start} ${i} ${outcome}\n`)
    if (reopen && n % reopen === 0) {
      kh.closeSync()
      kh = Keyhouse.open(db, options)
    }
  }
  kh.closeSync()
  console.log(JSON.stringify(counts))
}
