#!/usr/bin/env node
'use strict'
// `npx keyhouse …`: the keyhouse CLI, the core's own program (the same
// commands, output and exit codes as the Rust binary).
process.exitCode = require('../index.js').runCli(['keyhouse', ...process.argv.slice(2)])
