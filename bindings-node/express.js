'use strict'
// HTTP integration: check a request's API key, for Express or any framework.
//
//   const { apiKeyAuth } = require('keyhouse/express')
//   app.get('/files', apiKeyAuth(kh, { permissions: ['files:read'] }), (req, res) => {
//     res.json({ owner: req.apiKey.ownerId })
//   })
//
// And self-service key management for signed-in users (see keyRouter):
//
//   app.use('/api', keyRouter(kh, { owner: (req) => req.user?.id ?? null, permissions: ['read'] }))

const { httpStatus, KeyApi } = require('./index.js')

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

/**
 * An `express.Router` with which signed-in users manage their own keys:
 * `/keys` and `/keys/:id` (with `/revoke` and `/roll`) below where it is
 * mounted. `options.owner(req)` returns the caller's owner id (or a promise
 * of it), or `null` when no one is signed in (401).
 *
 * Every rule and answer is the core's (`KeyApi`), the same as FastAPI's
 * `key_router`; the contract is `core/src/self_service/openapi.yaml`. The
 * other options are the policy: `permissions`, `defaultPermissions`,
 * `prefixes`, `maxExpiresIn`, `maxGrace` (seconds), `allowDelete`,
 * `ownerLimits`, `remaining`, `refill`, `rateLimit`, `maxBodyBytes`. A
 * misspelt one is an INVALID_ARGUMENT here, not a silent default.
 *
 * `options.onEvent(event)` (may return a promise) is called after each
 * create, revoke, roll and delete; if it fails, the error is logged and
 * the answer still goes out, since the change is already made.
 */
function keyRouter(keyhouse, options = {}) {
  const { owner, onEvent, ...policy } = options
  if (typeof owner !== 'function') {
    throw new TypeError('keyRouter: options.owner must be a function (req) => ownerId | null')
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw new TypeError('keyRouter: options.onEvent must be a function')
  }
  const api = new KeyApi(keyhouse, JSON.stringify(policy))
  // express is the app's own dependency (a peer of this package).
  const router = require('express').Router()
  router.use((req, res, next) => {
    if (req.path !== '/keys' && !req.path.startsWith('/keys/')) return next()
    answer(api, owner, onEvent, req, res).catch(next)
  })
  return router
}

async function answer(api, owner, onEvent, req, res) {
  const who = await owner(req)
  const ownerId = who === null || who === undefined || who === '' ? null : String(who)
  const body = await readBody(req, api.maxBodyBytes)
  const q = req.url.indexOf('?')
  const query = q < 0 ? '' : req.url.slice(q + 1)
  const contentType = req.headers['content-type'] ?? null
  const reply = await api.handle(ownerId, req.method, req.path, query, contentType, body)
  if (reply.event && onEvent) await emit(onEvent, reply.event)
  res.status(reply.status).set(reply.headers)
  if (reply.body) res.send(reply.body)
  else res.end()
}

/**
 * The body, never more than one byte past `limit`: enough for the core to
 * refuse it (only its length matters then) without holding a huge upload.
 * A body that a parser such as `express.json()` already read is taken as
 * the JSON it parsed.
 */
function readBody(req, limit) {
  if (req._body || req.readableEnded) {
    return Promise.resolve(Buffer.from(req.body === undefined ? '' : JSON.stringify(req.body)))
  }
  if (Number(req.headers['content-length']) > limit) {
    req.resume()
    return Promise.resolve(Buffer.alloc(limit + 1))
  }
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    let done = false
    req.on('data', (chunk) => {
      if (done) return
      chunks.push(chunk)
      size += chunk.length
      if (size > limit) {
        done = true
        resolve(Buffer.concat(chunks).subarray(0, limit + 1))
      }
    })
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks))
    })
    req.on('error', reject)
  })
}

async function emit(onEvent, json) {
  const raw = JSON.parse(json)
  const event = { ...raw, at: new Date(raw.at) }
  try {
    await onEvent(event)
  } catch (err) {
    console.error(`keyhouse: onEvent failed for ${event.type} of key ${event.keyId}:`, err)
  }
}

module.exports = { apiKeyAuth, checkRequest, keyFromHeaders, keyRouter }
