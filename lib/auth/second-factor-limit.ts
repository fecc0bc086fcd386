import type { Db } from '../db/schema';
import { RefusedError } from '../errors';
import { countIn, RateLimiter } from './limits';

/**
 * Wrong second-factor codes, counted per account in the database (login_limits, as every limited
 * attempt is) whichever route they came through (the two-step login's verify-temp, disable,
 * regenerate, re-enrolment, account deletion): at most `maxFailures` within `windowMs`
 * (CTL_LOGIN_MAX_FAILURES, CTL_LOGIN_WINDOW), then 429. A session or a password alone then gives a
 * few guesses at a 6-digit code, not a million. The caller holds the user row's lock, so parallel
 * guesses are checked and counted one at a time.
 */

export interface SecondFactorLimits {
  readonly maxFailures: number;
  readonly windowMs: number;
}

/** Too many wrong codes for the account: HTTP 429 with Retry-After. */
export class SecondFactorLimitError extends RefusedError {
  constructor(readonly retryAfterMs: number) {
    super('Too many wrong two-factor codes; try again later');
  }
}

function limiterFor(limits: SecondFactorLimits): RateLimiter {
  return new RateLimiter({ name: 'second-factor', limit: limits.maxFailures, windowMs: limits.windowMs });
}

/** Throws SecondFactorLimitError when the account is at its limit. */
export async function assertSecondFactorAllowed(db: Db, userId: number, now: Date, limits: SecondFactorLimits): Promise<void> {
  // The oldest failures leave the window first: the wait is until enough of them have.
  const wait = await limiterFor(limits).retryAfter(db, String(userId), now.getTime());
  if (wait > 0) throw new SecondFactorLimitError(Math.max(1000, wait));
}

/** Whether the account may try a code now (reads only): lets slow work before the lock be skipped. */
export async function secondFactorAllowed(db: Db, userId: number, now: Date, limits: SecondFactorLimits): Promise<boolean> {
  return (await limiterFor(limits).retryAfter(db, String(userId), now.getTime())) === 0;
}

/** Counts a wrong code (login_limits forgets it once it leaves the window). */
export async function recordSecondFactorFailure(db: Db, userId: number, now: Date, limits: SecondFactorLimits): Promise<void> {
  await countIn(db, limiterFor(limits).rule, String(userId), now.getTime());
}
