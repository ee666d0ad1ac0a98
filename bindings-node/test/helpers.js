'use strict'
// Shared helpers for the Node test files.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

// The repository, for the shared vectors; KEYHOUSE_REPO when the suite runs
// from a copy against an installed package (scripts/dist-check.sh).
const REPO = process.env.KEYHOUSE_REPO || path.resolve(__dirname, '..', '..')

function readVectors(name) {
  return JSON.parse(fs.readFileSync(path.join(REPO, 'tests', 'vectors', name), 'utf8'))
}

function tempDb(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyhouse-node-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, 'keyhouse.db')
}

/** The keyhouse CLI: $KEYHOUSE_CLI, or the workspace's debug build. */
function cliPath() {
  const p = process.env.KEYHOUSE_CLI || path.join(REPO, 'target', 'debug', 'keyhouse')
  if (!fs.existsSync(p)) throw new Error(`keyhouse CLI not found at ${p}; build it with cargo build -p keyhouse`)
  return p
}

/**
 * The addon with the test seams (a settable clock, fixed randomness), which
 * the package must not have: $KEYHOUSE_SEAMS_ADDON, a debug build with the
 * test-seams feature that make test makes. Unset fails loudly.
 */
function seamsAddon() {
  const p = process.env.KEYHOUSE_SEAMS_ADDON
  if (!p) throw new Error('KEYHOUSE_SEAMS_ADDON is not set: the conformance scenarios need the test-seams build (make test-node)')
  return require(p)
}

/** A Python with the keyhouse package: $KEYHOUSE_PYTHON or the repository's .venv. */
function pythonPath() {
  return process.env.KEYHOUSE_PYTHON || path.join(REPO, '.venv', 'bin', 'python')
}

/** The PostgreSQL server the tests run against; unset fails loudly (make test sets it). */
function pgUrl() {
  const url = process.env.KEYHOUSE_TEST_PG
  if (!url) {
    throw new Error(
      'KEYHOUSE_TEST_PG is not set: the PostgreSQL tests need a server ' +
        '(make test starts one; or export KEYHOUSE_TEST_PG=postgres://USER:PASSWORD@HOST/DB)',
    )
  }
  return url
}

/** Runs SQL on the test server behind Keyhouse's back, with psql. */
function psql(sql) {
  return require('node:child_process')
    .execFileSync('psql', [pgUrl(), '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { encoding: 'utf8' })
    .trim()
}

/** A PostgreSQL schema of the test's own, dropped when the test ends. */
function pgSchema(t) {
  const name = `node_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  t.after(() => psql(`DROP SCHEMA IF EXISTS "${name}" CASCADE`))
  return name
}

module.exports = { REPO, readVectors, tempDb, cliPath, seamsAddon, pythonPath, pgUrl, psql, pgSchema }
