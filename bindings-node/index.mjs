// ES module entry: the same exports as the CommonJS `index.js`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const native = require('./index.js')

export const {
  Keyhouse,
  KeyhouseError,
  CreatedKey,
  GeneratedKey,
  generate,
  parse,
  hashKey,
  verifyHash,
  httpStatus,
} = native
export default native
