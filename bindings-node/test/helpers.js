'use strict'
// Shared helpers for the Node test files.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const REPO = path.resolve(__dirname, '..', '..')

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

/** A Python with the keyhouse package: $KEYHOUSE_PYTHON or the repository's .venv. */
function pythonPath() {
  return process.env.KEYHOUSE_PYTHON || path.join(REPO, '.venv', 'bin', 'python')
}

module.exports = { REPO, readVectors, tempDb, cliPath, pythonPath }
