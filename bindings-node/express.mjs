// ES module entry for `keyhouse/express`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
export const { apiKeyAuth, checkRequest, keyFromHeaders, keyRouter } = require('./express.js')
