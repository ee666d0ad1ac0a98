'use strict'
// The self-service demo: a signed-in user manages their own API keys on one
// page, and calls a protected route with them.
//
//   node bindings-node/examples/self-service/server.js     (or: make demo-web)
//
// Sign-in here is a bare cookie holding the user name, enough for a demo
// and for the tests; a real app puts its own session behind `owner`, and
// keeps its usual CSRF protection in front of the router.
//
// Environment: PORT (default 3000), KEYHOUSE_DB (default
// keyhouse-demo-web.db), KEYHOUSE_MAX_KEYS (keys per user, default 10).

const fs = require('node:fs')
const path = require('node:path')
const express = require('express')
// The package refers to itself by name, exactly as an app that installed it would.
const { Keyhouse } = require('keyhouse')
const { apiKeyAuth, keyRouter } = require('keyhouse/express')

const PAGE = path.join(__dirname, 'index.html')
const CLIENT = require.resolve('keyhouse/client').replace(/\.js$/, '.mjs')
const USER = /^[A-Za-z0-9_-]{1,32}$/
const YEAR = 365 * 24 * 3600

/** The signed-in user from the demo's cookie, or null. */
function currentUser(req) {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, value] = part.trim().split('=')
    if (name === 'demo_user' && USER.test(value ?? '')) return value
  }
  return null
}

const kh = Keyhouse.open(process.env.KEYHOUSE_DB ?? 'keyhouse-demo-web.db', {
  maxKeysPerOwner: Number(process.env.KEYHOUSE_MAX_KEYS ?? 10),
})
const app = express()

app.get('/', (req, res) => res.type('html').send(fs.readFileSync(PAGE)))
app.get('/keyhouse/client.mjs', (req, res) => res.type('text/javascript').send(fs.readFileSync(CLIENT)))

app.post('/login', express.json(), (req, res) => {
  const user = req.body && req.body.user
  if (typeof user !== 'string' || !USER.test(user)) return res.status(400).json({ error: 'a user name is 1-32 letters, digits, _ or -' })
  res.set('Set-Cookie', `demo_user=${user}; Path=/; HttpOnly; SameSite=Lax`).status(204).end()
})
app.post('/logout', (req, res) => {
  res.set('Set-Cookie', 'demo_user=; Path=/; Max-Age=0').status(204).end()
})
app.get('/me', (req, res) => {
  const user = currentUser(req)
  return user ? res.json({ user }) : res.status(401).json({ error: 'not signed in' })
})

app.use(
  '/api',
  keyRouter(kh, {
    owner: currentUser,
    permissions: ['read', 'write'],
    defaultPermissions: ['read'],
    prefixes: ['kh', 'demo'],
    maxExpiresIn: YEAR,
    allowDelete: true,
    // Printed for the demo; the key itself is never part of an event.
    onEvent: (e) => console.log(`event ${e.type} key=${e.keyId} owner=${e.ownerId}${e.newKeyId ? ` new=${e.newKeyId}` : ''}`),
  }),
)

// The protected route the keys are for.
app.get('/api/data', apiKeyAuth(kh, { permissions: ['read'] }), (req, res) => {
  res.json({ owner: req.apiKey.ownerId, keyId: req.apiKey.id })
})

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`Keyhouse self-service demo (Express): http://127.0.0.1:${server.address().port}/`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => kh.close().then(() => process.exit(0))))
}
