import type { Kysely, Transaction } from 'kysely';
import type { Database, Db } from '../db/schema';
import { RefusedError } from '../errors';
import { countIn, lockKeyIn, RateLimiter, releaseAll, type Slot } from './limits';

/**
 * Wrong second-factor codes, counted per account in the database (login_limits, as every limited
 * attempt is) whichever route they came through (the two-step login's verify-temp, disable,
 * regenerate, re-enrolment, account deletion, an enrolment's verify and confirm): at most
 * `maxFailures` within `windowMs` (CTL_LOGIN_MAX_FAILURES, CTL_LOGIN_WINDOW), then 429. A session
 * or a password alone then gives a few guesses at a 6-digit code, not a million. A TOTP code is
 * checked and counted under the user row's lock, so parallel guesses go one at a time; a backup
 * code's attempt is taken (checked and counted under the limiter's own lock,
 * takeSecondFactorAttempt) before its compares. The TOTP check holds that limiter lock too, from
 * its check to its commit (holdSecondFactorCount), so a TOTP guess and a backup code sent at once
 * are counted in turn and never pass the limit together.
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

/**
 * Holds the account's limiter lock in `trx` until it ends: an assertSecondFactorAllowed and a
 * recordSecondFactorFailure after it in `trx` then count in turn with takeSecondFactorAttempt.
 * Take the user row's lock (FOR UPDATE) first: takeSecondFactorAttempt holds this lock and never
 * waits for the row, so that order cannot deadlock; the reverse order, row after this lock, could.
 * `trx` reads at READ COMMITTED (PostgreSQL's default, which ctl assumes), so the count it reads after the wait includes
 * what was counted meanwhile.
 */
export async function holdSecondFactorCount(trx: Transaction<Database>, userId: number, limits: SecondFactorLimits): Promise<void> {
  await lockKeyIn(trx, limiterFor(limits).rule, String(userId));
}

/** Throws SecondFactorLimitError when the account is at its limit. */
export async function assertSecondFactorAllowed(db: Db, userId: number, now: Date, limits: SecondFactorLimits): Promise<void> {
  // The oldest failures leave the window first: the wait is until enough of them have.
  const wait = await limiterFor(limits).retryAfter(db, String(userId), now.getTime());
  if (wait > 0) throw new SecondFactorLimitError(Math.max(1000, wait));
}

/**
 * Counts an attempt before its slow work (a backup code's ten bcrypt compares run before the row is
 * locked), checked and counted in one step: parallel attempts cannot all start that work, so the
 * limit bounds it as it bounds guesses. Throws SecondFactorLimitError at the limit. The attempt stays
 * counted as a wrong code unless given back (releaseSecondFactorAttempt) once the code proved right.
 */
export async function takeSecondFactorAttempt(db: Kysely<Database>, userId: number, now: Date, limits: SecondFactorLimits): Promise<Slot> {
  const taken = await limiterFor(limits).take(db, String(userId), now.getTime());
  if ('wait' in taken) throw new SecondFactorLimitError(Math.max(1000, taken.wait));
  return taken;
}

/** Gives back an attempt takeSecondFactorAttempt counted: the code was right. */
export async function releaseSecondFactorAttempt(db: Db, attempt: Slot): Promise<void> {
  await releaseAll(db, [attempt]);
}

/** Counts a wrong code (login_limits forgets it once it leaves the window). */
export async function recordSecondFactorFailure(trx: Transaction<Database>, userId: number, now: Date, limits: SecondFactorLimits): Promise<void> {
  await countIn(trx, limiterFor(limits).rule, String(userId), now.getTime());
}
