/** A failed call: `code` is the server's stable code (or NETWORK_ERROR / HTTP_ERROR), `status` the HTTP status (0 if none). */
export declare class KeyhouseError extends Error {
  readonly code: string
  readonly status: number
}

/** A key as the API shows it; the plaintext is never part of it. */
export interface Key {
  id: string
  prefix: string
  name: string | null
  permissions: string[]
  metadata: Record<string, unknown>
  enabled: boolean
  status: 'active' | 'disabled' | 'expired' | 'revoked'
  createdAt: Date
  updatedAt: Date
  expiresAt: Date | null
  revokedAt: Date | null
  lastUsedAt: Date | null
  usageCount: number
  remaining: number | null
  /** `interval` in seconds. */
  refill: { amount: number; interval: number } | null
  /** `window` in seconds. */
  rateLimit: { limit: number; window: number } | null
}

/** A key just created or rolled, with its plaintext: shown this once. */
export interface CreatedKey extends Key {
  key: string
}

export interface KeyPage {
  keys: Key[]
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null
}

export interface CreateKeyInput {
  name?: string
  /** Seconds until the key expires (at most the app's maximum). */
  expiresIn?: number
  /** Each must be in the app's allowlist. */
  permissions?: string[]
  metadata?: Record<string, unknown>
  /** One of the prefixes the app allows. */
  prefix?: string
  /** Only where the app lets owners set limits. */
  remaining?: number
  refill?: { amount: number; interval: number }
  rateLimit?: { limit: number; window: number }
}

export interface UpdateKeyInput {
  name?: string | null
  enabled?: boolean
  metadata?: Record<string, unknown>
  remaining?: number | null
  refill?: { amount: number; interval: number } | null
  rateLimit?: { limit: number; window: number } | null
}

export interface KeyClientOptions {
  /** Where the router is mounted, e.g. `/api` or `https://app.example.com/api`. */
  baseURL?: string
  /** Sent to fetch; default `include`, so the session cookie goes along. */
  credentials?: 'include' | 'same-origin' | 'omit'
  /** Added to every request, e.g. a CSRF token header. */
  headers?: Record<string, string>
  /** A fetch to use instead of the global one. */
  fetch?: typeof globalThis.fetch
}

export interface KeyClient {
  /** Creates a key; `key` in the answer is the plaintext, shown this once. */
  create(input?: CreateKeyInput): Promise<CreatedKey>
  /** One page of the caller's keys, oldest first. */
  list(options?: { limit?: number; cursor?: string | null; includeRevoked?: boolean }): Promise<KeyPage>
  /** One of the caller's keys. */
  get(id: string): Promise<Key>
  /** Changes a key's name, enabled flag or metadata. */
  update(id: string, changes: UpdateKeyInput): Promise<Key>
  /** Revokes a key. */
  revoke(id: string): Promise<Key>
  /** Replaces a key; the old one works `grace` more seconds. */
  roll(id: string, options?: { grace?: number }): Promise<CreatedKey>
  /** Deletes a key, where the app allows it. */
  delete(id: string): Promise<void>
}

/** A client for the key routes under `baseURL`. */
export declare function createKeyClient(options?: KeyClientOptions): KeyClient
