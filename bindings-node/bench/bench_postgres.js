'use strict'
// How long a PostgreSQL cache miss blocks the event loop, sync and async.
//   KEYHOUSE_TEST_PG=postgres://… node bench_postgres.js
// verifySync on a miss holds the loop for the whole round trip; the async
// verify does its I/O on the libuv pool, and the loop only pays for the hop.
// Event-loop delay is measured with perf_hooks.monitorEventLoopDelay while
// each variant verifies 1,000 keys no store has cached. Medians of 3 rounds.
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { Keyhouse } = require('..')
const { median } = require('./timing')

const url = process.env.KEYHOUSE_TEST_PG
if (!url) throw new Error('KEYHOUSE_TEST_PG must name a PostgreSQL server')
const schema = `bench_node_${process.pid}`
const N = 1000

async function main() {
  const kh = Keyhouse.open(url, { schema })
  const keys = (await kh.createMany(Array.from({ length: N }, () => ({})))).map((c) => c.key)
  const rows = []
  for (let round = 0; round < 3; round++) {
    // verifySync: each call blocks the loop for its round trip.
    const cold = Keyhouse.open(url, { schema })
    const blocked = keys.map((k) => {
      const t = process.hrtime.bigint()
      cold.verifySync(k)
      return Number(process.hrtime.bigint() - t) / 1e3
    })
    await cold.close()
    // Async verify: the loop's delay while 1,000 misses run, 8 at a time.
    const cold2 = Keyhouse.open(url, { schema })
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    const t = process.hrtime.bigint()
    for (let i = 0; i < N; i += 8) await Promise.all(keys.slice(i, i + 8).map((k) => cold2.verify(k)))
    const asyncMs = Number(process.hrtime.bigint() - t) / 1e6
    h.disable()
    await cold2.close()
    rows.push([median(blocked), h.percentile(50) / 1e3, h.percentile(99) / 1e3, asyncMs])
  }
  const m = (i) => median(rows.map((r) => r[i]))
  console.log(`verifySync on a miss blocks the event loop for p50 ${m(0).toFixed(0)} µs (one round trip)`)
  console.log(
    `async verify, 1,000 misses 8 at a time in ${m(3).toFixed(0)} ms: event-loop delay p50 ${m(1).toFixed(0)} µs, ` +
      `p99 ${m(2).toFixed(0)} µs (the histogram's floor is its 1 ms resolution)`,
  )
  const { execFileSync } = require('node:child_process')
  await kh.close()
  execFileSync('psql', [url, '-qc', `SET client_min_messages = warning; DROP SCHEMA "${schema}" CASCADE`])
}

main()
