// A typed use of the public API, checked by `tsc` in types.test.js (never run).
import { Keyhouse, KeyhouseError, generate, parse, type KeyInfo, type Outcome, type VerifyResult } from 'keyhouse'
import { apiKeyAuth, checkRequest } from 'keyhouse/express'

export async function issue(kh: Keyhouse, owner: string): Promise<string> {
  const created = await kh.create({
    ownerId: owner,
    expiresIn: 30 * 86400,
    permissions: ['files:*'],
    metadata: { plan: 'pro' },
    refill: { amount: 100, interval: 86400 },
    rateLimit: { limit: 10, window: 60 },
  })
  return created.key
}

export function check(kh: Keyhouse, key: string): KeyInfo | undefined {
  const result: VerifyResult = kh.verifySync(key, ['files:read'], 1)
  const outcome: Outcome = result.outcome
  if (outcome === 'RATE_LIMITED' && result.retryAfter !== undefined) {
    const wait: number = result.retryAfter
    void wait
  }
  return outcome === 'VALID' ? result.key ?? undefined : undefined
}

export async function owners(kh: Keyhouse): Promise<Array<string | undefined | null>> {
  const page = await kh.list({ limit: 10, includeRevoked: true })
  return page.keys.map((k) => k.ownerId)
}

export function stateless(): boolean {
  const g = generate('acme', { secretBytes: 32 })
  return parse(g.key).id === g.id
}

export function errors(kh: Keyhouse): string {
  try {
    kh.getSync('00000000000000')
  } catch (e) {
    if (e instanceof KeyhouseError) return e.code
  }
  return ''
}

export const middleware = apiKeyAuth(Keyhouse.open(':memory:'), { permissions: ['a:b'] })
export const answer = checkRequest(Keyhouse.open(':memory:'), {})
