#!/usr/bin/env node
'use strict'
// Writes client.js, the CommonJS twin of client.mjs, so that the one source
// serves `import`, `require` and a browser's <script type="module">.
// `make test-node` checks that the committed client.js is what this writes.

const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const source = fs.readFileSync(path.join(root, 'client.mjs'), 'utf8')
const names = []
const body = source.replace(/^export (class|function|async function) (\w+)/gm, (_, kind, name) => {
  names.push(name)
  return `${kind} ${name}`
})
if (/^export /m.test(body)) throw new Error('client.mjs: only `export class` and `export function` are converted')
const header = "'use strict'\n// Generated from client.mjs by scripts/client-cjs.js; do not edit.\n\n"
fs.writeFileSync(path.join(root, 'client.js'), `${header}${body}\nmodule.exports = { ${names.join(', ')} }\n`)
