import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { RateLimitedError } from '../auth/login';
import { forgiveUpTo, takeAll, type LimitRule } from '../auth/limits';

/**
 * The rule of the single sign-on callbacks: CTL_LOGIN_MAX_FAILURES_PER_ADDRESS attempts per client
 * address in CTL_LOGIN_WINDOW, the password login's per-address limit, in a count of its own.
 */
export function ssoCallbackRule(settings: { readonly loginMaxFailuresPerAddress: number; readonly loginWindowMs: number }): LimitRule {
  return { name: 'sso-callback', limit: settings.loginMaxFailuresPerAddress, windowMs: settings.loginWindowMs };
}

/**
 * Runs one callback of the identity provider (an OpenID code to redeem, a SAML response to verify)
 * under the per-address rule, kept in the database (lib/auth/limits.ts), so every instance on one
 * database shares the count. The attempt is checked and counted before `attempt` starts, so past
 * the limit (429 with the wait) no request goes to the provider and no XML is read: a forged flow
 * cookie and a made-up code, or a garbage SAMLResponse, cost the provider and this server nothing
 * more. A failure (401, 403, 503) stays counted; a success forgives this address's attempts
 * counted before it (not those still running beside it), so people behind one NAT who sign in
 * are not locked out by their own stale tabs and cancelled logins.
 */
export async function throttleSsoCallback<T>(db: Kysely<Database>, rule: LimitRule, address: string, now: number, attempt: () => Promise<T>): Promise<T> {
  const slots = await takeAll(db, [{ rule, key: address }], now);
  if ('wait' in slots) throw new RateLimitedError('Too many single sign-on attempts from this address; try again later', slots.wait);
  const result = await attempt();
  // The session is committed: a lost forgiveness cannot take it back, so it is not a reason to fail.
  await forgiveUpTo(db, slots).catch(() => undefined);
  return result;
}
