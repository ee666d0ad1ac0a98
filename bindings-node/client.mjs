// keyhouse/client: a typed client for the self-service key routers
// (FastAPI's key_router, Express's keyRouter), for browsers and Node.
// No dependencies; it uses fetch. A <script type="module"> can import this
// file as it is. client.js, the CommonJS twin, is generated from it
// (scripts/client-cjs.js); edit this file only.

/** A failed call: `.code` is the server's stable code, `.status` the HTTP status (0 if none arrived). */
export class KeyhouseError extends Error {
  constructor(code, message, status) {
    super(message)
    this.name = 'KeyhouseError'
    this.code = code
    this.status = status
  }
}

const DATES = ['createdAt', 'updatedAt', 'expiresAt', 'revokedAt', 'lastUsedAt']

/** A key as the server sends it, with its times as `Date` (or null). */
function toKey(raw) {
  const key = { ...raw }
  for (const field of DATES) key[field] = raw[field] == null ? null : new Date(raw[field])
  return key
}

/**
 * A client for the key routes under `baseURL` (e.g. `/api`). Cookies go
 * with every request (`credentials: 'include'`) unless told otherwise;
 * `headers` are added to every request, e.g. a CSRF token.
 */
export function createKeyClient(options = {}) {
  const base = (options.baseURL ?? '').replace(/\/+$/, '')
  const credentials = options.credentials ?? 'include'
  const fetchImpl = options.fetch ?? globalThis.fetch
  const extra = options.headers ?? {}

  async function call(method, path, body) {
    const headers = { accept: 'application/json', ...extra }
    const init = { method, headers, credentials }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    let res
    try {
      res = await fetchImpl(base + path, init)
    } catch (err) {
      throw new KeyhouseError('NETWORK_ERROR', `could not reach the key API: ${err && err.message}`, 0)
    }
    if (res.status === 204) return undefined
    const text = await res.text()
    let json
    try {
      json = text ? JSON.parse(text) : undefined
    } catch {
      json = undefined
    }
    if (!res.ok) {
      const error = json && json.error
      if (error && typeof error.code === 'string') throw new KeyhouseError(error.code, error.message, res.status)
      throw new KeyhouseError('HTTP_ERROR', `the key API answered ${res.status}`, res.status)
    }
    return json
  }

  const one = (id) => `/keys/${encodeURIComponent(id)}`

  return {
    /** Creates a key; the answer's `key` is the plaintext, shown this once. */
    async create(input = {}) {
      return toKey(await call('POST', '/keys', input))
    },
    /** One page of the caller's keys, oldest first. */
    async list(options = {}) {
      const params = new URLSearchParams()
      if (options.limit !== undefined) params.set('limit', String(options.limit))
      if (options.cursor !== undefined && options.cursor !== null) params.set('cursor', options.cursor)
      if (options.includeRevoked !== undefined) params.set('includeRevoked', String(Boolean(options.includeRevoked)))
      const query = params.toString()
      const page = await call('GET', query ? `/keys?${query}` : '/keys')
      return { keys: page.keys.map(toKey), nextCursor: page.nextCursor }
    },
    /** One of the caller's keys. */
    async get(id) {
      return toKey(await call('GET', one(id)))
    },
    /** Changes `name`, `enabled` or `metadata`. */
    async update(id, changes) {
      return toKey(await call('PATCH', one(id), changes))
    },
    /** Revokes a key; it never verifies again. */
    async revoke(id) {
      return toKey(await call('POST', `${one(id)}/revoke`, {}))
    },
    /** Replaces a key; the old one keeps working for `grace` seconds. */
    async roll(id, options = {}) {
      return toKey(await call('POST', `${one(id)}/roll`, options))
    },
    /** Deletes a key (when the app allows it). */
    async delete(id) {
      await call('DELETE', one(id))
    },
  }
}
