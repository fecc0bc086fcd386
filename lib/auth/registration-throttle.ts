import { RateLimitedError, type LoginThrottle } from './login';

/**
 * Runs one registration attempt under the per-address limit of the login throttle, in its own
 * count (`r:<address>`, CTL_LOGIN_MAX_FAILURES_PER_ADDRESS per CTL_LOGIN_WINDOW): checked and
 * counted in one step before anything is looked up, given back when the account is created. So a
 * failed registration (taken nickname or email, dead invite, bad field) is a counted guess, and
 * registration is not an unlimited oracle for which names and addresses exist.
 */
export async function throttleRegistration<T>(throttle: LoginThrottle, address: string, now: number, attempt: () => Promise<T>): Promise<T> {
  const slot = throttle.perAddress.take(`r:${address}`, now);
  if ('wait' in slot) throw new RateLimitedError('Too many registration attempts; try again later', slot.wait);
  const result = await attempt();
  throttle.perAddress.release(slot);
  return result;
}
