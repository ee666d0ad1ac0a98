import type { Keyhouse, KeyInfo } from './index'

export interface AuthOptions {
  /** Permissions every key must have. */
  permissions?: string[]
  /** Credits to charge keys that have credits (default 1). */
  cost?: number
  /** The API-key header (default `x-api-key`); `Authorization: Bearer` is always accepted. */
  header?: string
  /** Verify on the calling thread (default true) instead of the thread pool. */
  sync?: boolean
}

export type Answer =
  | { key: KeyInfo; status?: undefined }
  | { key?: undefined; status: 401 | 403 | 429; headers: Record<string, string>; body: { error: string } }

/** Checks a request's headers: `{ key }` for a valid key, or the answer to send. */
export declare function checkRequest(keyhouse: Keyhouse, headers: Record<string, string | string[] | undefined>, options?: AuthOptions): Promise<Answer>

/** The presented key, from the API-key header or an `Authorization: Bearer` token. */
export declare function keyFromHeaders(headers: Record<string, string | string[] | undefined>, header?: string): string | null

/** Express middleware: sets `req.apiKey` (or `options.property`) or answers 401, 403 or 429. */
export declare function apiKeyAuth(
  keyhouse: Keyhouse,
  options?: AuthOptions & { property?: string },
): (req: any, res: any, next: (err?: unknown) => void) => void

/** What owners may do to their keys (all durations in whole seconds). */
export interface KeyPolicy {
  /** The permissions owners may grant; `*` never. */
  permissions?: string[]
  /** What a key gets when the request names no permissions (a subset of `permissions`). */
  defaultPermissions?: string[]
  /** Prefixes owners may pick; by default only the store's. */
  prefixes?: string[]
  /** The longest lifetime an owner may give a key; also the default lifetime. */
  maxExpiresIn?: number
  /** The longest grace period of a roll (default one day). */
  maxGrace?: number
  /** Whether owners may delete keys (default false; revoking is always allowed). */
  allowDelete?: boolean
  /** Whether owners may set credits, refill and rate limit (default false: admin-only). */
  ownerLimits?: boolean
  /** A rate limit every owner-created key gets, per key (`window` in seconds). */
  rateLimit?: { limit: number; window: number }
  /** The largest body accepted (default 16384 bytes). */
  maxBodyBytes?: number
}

/** A change an owner made to a key. It never holds the key. */
export interface KeyEvent {
  type: 'created' | 'revoked' | 'rolled' | 'deleted'
  ownerId: string
  /** The key acted on; for a roll, the old key. */
  keyId: string
  /** For a roll, the replacement's id; otherwise null. */
  newKeyId: string | null
  at: Date
}

/** What an owner callback may return for a signed-in user. */
export type OwnerId = string | number | bigint

export interface KeyRouterOptions extends KeyPolicy {
  /** The signed-in caller's owner id (a string or an integer), or null when no one is (401). */
  owner: (req: any) => OwnerId | null | undefined | Promise<OwnerId | null | undefined>
  /** Called after each create, revoke, roll and delete (once the answer is sent), for audit logs and emails. */
  onEvent?: (event: KeyEvent) => void | Promise<void>
}

/** An `express.Router` serving `/keys…` for signed-in owners (contract: core/src/self_service/openapi.yaml). */
export declare function keyRouter(keyhouse: Keyhouse, options: KeyRouterOptions): any
