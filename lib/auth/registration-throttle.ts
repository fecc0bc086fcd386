import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { RateLimitedError, type LoginThrottle } from './login';
import { releaseAll, takeAll } from './limits';

/**
 * Runs one registration attempt under the per-address limit of the login throttle, in its own
 * count (`r:<address>`, CTL_LOGIN_MAX_FAILURES_PER_ADDRESS per CTL_LOGIN_WINDOW): checked and
 * counted in the database (shared by every instance) before anything is looked up, given back
 * when the account is created. So a failed registration (taken nickname or email, dead invite,
 * bad field) is a counted guess, and registration is not an unlimited oracle for which names and
 * addresses exist.
 */
export async function throttleRegistration<T>(
  db: Kysely<Database>,
  throttle: LoginThrottle,
  address: string,
  now: number,
  attempt: () => Promise<T>,
): Promise<T> {
  const slots = await takeAll(db, [{ rule: throttle.perAddress, key: `r:${address}` }], now);
  if ('wait' in slots) throw new RateLimitedError('Too many registration attempts; try again later', slots.wait);
  const result = await attempt();
  await releaseAll(db, slots);
  return result;
}
