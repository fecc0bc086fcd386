import type { Db } from '../db/schema';
import { RefusedError } from '../errors';

/**
 * Wrong second-factor codes, counted per account in the database whichever route they came
 * through (the two-step login's verify-temp, disable, regenerate, re-enrolment, account deletion):
 * at most `maxFailures` within `windowMs` (CTL_LOGIN_MAX_FAILURES, CTL_LOGIN_WINDOW), then 429. A
 * session or a password alone then gives a few guesses at a 6-digit code, not a million. The
 * caller holds the user row's lock, so parallel guesses are checked and counted one at a time.
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

/** Throws SecondFactorLimitError when the account is at its limit. */
export async function assertSecondFactorAllowed(db: Db, userId: number, now: Date, limits: SecondFactorLimits): Promise<void> {
  const since = new Date(now.getTime() - limits.windowMs);
  const row = await db
    .selectFrom('second_factor_failures')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('at', '>', since)
    .executeTakeFirstOrThrow();
  if (Number(row.n) < limits.maxFailures) return;
  // The oldest failures leave the window first; the count drops below the limit when enough have.
  const failures = await db
    .selectFrom('second_factor_failures')
    .select('at')
    .where('user_id', '=', userId)
    .where('at', '>', since)
    .orderBy('at')
    .limit(Number(row.n) - limits.maxFailures + 1)
    .execute();
  const freed = new Date(failures[failures.length - 1].at).getTime() + limits.windowMs;
  throw new SecondFactorLimitError(Math.max(1000, freed - now.getTime()));
}

/** Counts a wrong code, and forgets the account's failures that left the window (the table stays small). */
export async function recordSecondFactorFailure(db: Db, userId: number, now: Date, limits: SecondFactorLimits): Promise<void> {
  await db
    .deleteFrom('second_factor_failures')
    .where('user_id', '=', userId)
    .where('at', '<=', new Date(now.getTime() - limits.windowMs))
    .execute();
  await db.insertInto('second_factor_failures').values({ user_id: userId, at: now }).execute();
}
