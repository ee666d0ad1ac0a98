'use strict'
// Argument reading and timing shared by the Node benchmarks.

/** The number after `name` on the command line, or `fallback`. */
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Median nanoseconds per call of `fn`, over `repeats` runs of `calls` calls. */
function perCall(fn, calls, repeats) {
  const samples = []
  for (let r = 0; r < repeats; r++) {
    const t = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) fn()
    samples.push(Number(process.hrtime.bigint() - t) / calls)
  }
  return median(samples)
}

module.exports = { arg, median, perCall }
