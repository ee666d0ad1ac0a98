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
