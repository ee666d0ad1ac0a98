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
 * mounted. `options.owner(req)` returns the caller's owner id, a string or
 * an integer (or a promise of it), or `null` when no one is signed in (401).
 * Mount it before any global body parser: it reads its own body.
 *
 * Every rule and answer is the core's (`KeyApi`), the same as FastAPI's
 * `key_router`; the contract is `core/src/self_service/openapi.yaml`. The
 * other options are the policy: `permissions`, `defaultPermissions`,
 * `prefixes`, `maxExpiresIn`, `maxGrace` (seconds), `allowDelete`,
 * `ownerLimits`, `rateLimit`, `maxBodyBytes`. A misspelt one is an
 * INVALID_ARGUMENT here, not a silent default.
 *
 * `options.onEvent(event)` (may return a promise) is called after each
 * create, revoke, roll and delete, once the answer is sent; if it fails,
 * the error is logged.
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
  const ownerId = ownerText(await owner(req))
  const body = await readBody(req, api.maxBodyBytes)
  const q = req.url.indexOf('?')
  const query = q < 0 ? '' : req.url.slice(q + 1)
  const contentType = req.headers['content-type'] ?? null
  // req.path is still percent-encoded; the core decodes each segment.
  const reply = await api.handle(ownerId, req.method, req.path, query, contentType, body)
  res.status(reply.status).set(reply.headers)
  if (reply.body) res.send(reply.body)
  else res.end()
  // After the answer is sent: a slow audit log never holds back a key.
  if (reply.event && onEvent) emit(onEvent, reply.event)
}

/**
 * The owner id as the store keeps it. Anything but a string or an integer
 * is the app's mistake (every object stringifies alike, which would make
 * all users one owner), so it fails loudly rather than guessing.
 */
function ownerText(who) {
  if (who === null || who === undefined || who === '') return null
  if (typeof who === 'string') return who
  if ((typeof who === 'number' && Number.isSafeInteger(who)) || typeof who === 'bigint') return String(who)
  throw new TypeError(`keyRouter: options.owner must return a string or an integer id, or null; got ${typeof who}`)
}

/**
 * The body, never more than one byte past `limit`: enough for the core to
 * refuse it (only its length matters then) without holding a huge upload.
 * If a body parser upstream already read it, its result is used as it is:
 * a Buffer or a string unchanged, parsed JSON serialized again. A stream
 * that something else consumed without leaving a body is an error, never
 * an empty body.
 */
function readBody(req, limit) {
  // body-parser 1 marks what it read with `_body`; version 2 (Express 5)
  // leaves a finished stream and `req.body`.
  if (req._body || (req.readableEnded && req.body !== undefined)) {
    const parsed = req.body
    if (Buffer.isBuffer(parsed)) return Promise.resolve(parsed)
    if (typeof parsed === 'string') return Promise.resolve(Buffer.from(parsed))
    return Promise.resolve(Buffer.from(parsed === undefined ? '' : JSON.stringify(parsed)))
  }
  if (req.readableEnded) {
    const hadBody = Number(req.headers['content-length']) > 0 || req.headers['transfer-encoding'] !== undefined
    if (hadBody) {
      return Promise.reject(new Error('keyRouter: the request body was read before the router; mount keyRouter before body-reading middleware'))
    }
    return Promise.resolve(Buffer.alloc(0))
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
