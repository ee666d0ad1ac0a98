'use strict'
// HTTP integration: check a request's API key, for Express or any framework.
//
//   const { apiKeyAuth } = require('keyhouse/express')
//   app.get('/files', apiKeyAuth(kh, { permissions: ['files:read'] }), (req, res) => {
//     res.json({ owner: req.apiKey.ownerId })
//   })

const { httpStatus } = require('./index.js')

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="api"' }

/** The presented key, from the API-key header or an `Authorization: Bearer` token. */
function keyFromHeaders(headers, header = 'x-api-key') {
  const direct = headers[header.toLowerCase()]
  if (typeof direct === 'string' && direct.trim() !== '') return direct.trim()
  const auth = headers.authorization
  if (typeof auth === 'string') {
    const match = /^bearer\s+(\S+)\s*$/i.exec(auth)
    if (match) return match[1]
  }
  return null
}

/**
 * Seconds for `Retry-After`: the core's wait (exact for a rate limit; for
 * spent credits, until the next refill). Credits no refill brings back do
 * not return by waiting: a day-long hint, not a hot retry loop.
 */
function retryAfterSeconds(result) {
  if (typeof result.retryAfter === 'number') return Math.max(1, Math.ceil(result.retryAfter))
  return 86400
}

/**
 * The HTTP answer for a verify result: `{ key }` for a VALID key, otherwise
 * `{ status, headers, body }` to send (401, 403 or 429).
 */
function decide(result) {
  const outcome = result.outcome
  // The status is the core's, the same in every binding.
  const status = httpStatus(outcome)
  if (status === 200) return { key: result.key }
  if (status === 403) return { status, headers: {}, body: { error: outcome } }
  if (status === 429) {
    return { status, headers: { 'Retry-After': String(retryAfterSeconds(result)) }, body: { error: outcome } }
  }
  return { status: 401, headers: CHALLENGE, body: { error: outcome } }
}

/**
 * Checks a request's headers. Resolves to `{ key }` or to an answer to send.
 * `sync` (the default) verifies on the calling thread: a few microseconds,
 * cheaper than a hop to the thread pool.
 */
async function checkRequest(keyhouse, headers, options = {}) {
  const { permissions = [], cost = 1, header = 'x-api-key', sync = true } = options
  const key = keyFromHeaders(headers, header)
  if (key === null) return { status: 401, headers: CHALLENGE, body: { error: 'MISSING_API_KEY' } }
  const result = sync ? keyhouse.verifySync(key, permissions, cost) : await keyhouse.verify(key, permissions, cost)
  return decide(result)
}

/**
 * Express middleware: puts the key's info on `req.apiKey` (or `options.property`)
 * or answers 401, 403 or 429 itself.
 */
function apiKeyAuth(keyhouse, options = {}) {
  const property = options.property || 'apiKey'
  return function keyhouseAuth(req, res, next) {
    checkRequest(keyhouse, req.headers, options).then((answer) => {
      if (answer.key) {
        req[property] = answer.key
        return next()
      }
      res.status(answer.status).set(answer.headers).json(answer.body)
    }, next)
  }
}

module.exports = { apiKeyAuth, checkRequest, keyFromHeaders }
