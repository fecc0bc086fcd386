import type { UserRow } from '../db/schema';
import type { LibContext } from '../lib-context';
import { hashToken, newToken } from '../tokens/secrets';
import { AccountRefusedError, accountRefusal, LoginFailedError } from './login';
import { checkUserBackupCode, judgeCheckedCode, verifyLimitedSecondFactor, type BackupCodeHasher } from './mfa';
import { releaseSecondFactorAttempt } from './second-factor-limit';
import { issueSessionPair, type RefreshSettings, type SessionPair } from './refresh-tokens';

/**
 * LibreChat's two-step login: the password proved, the server answers `{twoFAPending, tempToken}`
 * and the second factor follows in POST /api/auth/2fa/verify-temp. The temp token is opaque,
 * stored hashed, lives CHALLENGE_TTL_MS, works once, and dies after MAX_FAILURES wrong codes
 * (each wrong code is also a TOTP replay-protected check) or when the password changes meanwhile.
 * A right password opens a new challenge every time, so wrong codes are also counted per account
 * (second-factor-limit.ts): CTL_LOGIN_MAX_FAILURES of them within CTL_LOGIN_WINDOW, then 429.
 */

export interface ChallengeSettings extends RefreshSettings {
  readonly loginMaxFailures: number;
  readonly loginWindowMs: number;
}

/** LibreChat's temp token lives 5 minutes too. */
export const CHALLENGE_TTL_MS = 5 * 60e3;
/** Wrong codes one challenge tolerates; then a new login (with the password, throttled) is needed. */
export const MAX_FAILURES = 5;

/** A fingerprint of the password hash: a reset or change makes the challenge worthless. */
function fingerprint(user: Pick<UserRow, 'password_hash'>): string {
  return hashToken(user.password_hash ?? '');
}

/** Starts a challenge for a user whose password was just proved; returns the temp token. */
export async function beginChallenge(ctx: LibContext, user: Pick<UserRow, 'id' | 'password_hash'>): Promise<string> {
  const token = newToken();
  const now = ctx.now();
  // Expired challenges are worthless (wrong codes are counted in login_limits): gone.
  await ctx.db.deleteFrom('two_factor_challenges').where('user_id', '=', user.id).where('expires_at', '<=', now).execute();
  await ctx.db
    .insertInto('two_factor_challenges')
    .values({
      token_hash: hashToken(token),
      user_id: user.id,
      password_fingerprint: fingerprint(user),
      expires_at: new Date(now.getTime() + CHALLENGE_TTL_MS),
      created_at: now,
    })
    .execute();
  return token;
}

const INVALID = 'Invalid or expired two-factor login; log in again';

/**
 * Completes a challenge with a TOTP or backup code: a session (access token and a new refresh
 * family) and last_login_at, in one transaction. A wrong code is counted on the challenge (that
 * count commits); a dead challenge, an account that may no longer log in (403) or a wrong code
 * (401) are errors. A backup code is compared on `verifier` before anything is locked.
 */
export async function completeChallenge(
  ctx: LibContext,
  verifier: Pick<BackupCodeHasher, 'verify'>,
  tempToken: string,
  code: string,
  settings: ChallengeSettings,
): Promise<SessionPair> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(tempToken)) throw new LoginFailedError(INVALID);
  const limits = { maxFailures: settings.loginMaxFailures, windowMs: settings.loginWindowMs };
  const now = ctx.now();
  const live = await ctx.db
    .selectFrom('two_factor_challenges')
    .select('user_id')
    .where('token_hash', '=', hashToken(tempToken))
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .where('failures', '<', MAX_FAILURES)
    .executeTakeFirst();
  // A dead challenge compares nothing: the transaction below answers it.
  const checked = live ? await checkUserBackupCode(ctx.db, verifier, live.user_id, code, now, limits) : { code, backupHash: null, attempt: null };
  const outcome = await judgeCheckedCode(ctx.db, checked, () =>
    ctx.db.transaction().execute(async (trx) => {
      // The compares may have waited for the hash pool: the challenge's expiry is checked as of now.
      const now = ctx.now();
      // The user row first, then the challenge: every sign-out (sign_out, deactivate, rm, a reset)
      // locks the user and then ends its challenges, and the other order deadlocked with it.
      const tokenHash = hashToken(tempToken);
      const user = await trx
        .selectFrom('users')
        .selectAll()
        .where('id', '=', (eb) => eb.selectFrom('two_factor_challenges').select('user_id').where('token_hash', '=', tokenHash))
        .forUpdate()
        .executeTakeFirst();
      if (!user) return INVALID;
      const challenge = await trx.selectFrom('two_factor_challenges').selectAll().where('token_hash', '=', tokenHash).forUpdate().executeTakeFirst();
      // Ended (or replaced) while this waited for the user row: a sign-out meant it to be.
      if (!challenge || challenge.user_id !== user.id) return INVALID;
      if (challenge.used_at !== null || challenge.expires_at <= now || challenge.failures >= MAX_FAILURES) return INVALID;
      const refusal = accountRefusal(user, settings);
      if (refusal) throw new AccountRefusedError(refusal);
      if (!user.mfa_enabled || fingerprint(user) !== challenge.password_fingerprint) return INVALID;
      if (!(await verifyLimitedSecondFactor(trx, user, checked, now, limits))) {
        await trx
          .updateTable('two_factor_challenges')
          .set({ failures: challenge.failures + 1 })
          .where('id', '=', challenge.id)
          .execute();
        return 'Invalid two-factor authentication code';
      }
      await trx.updateTable('two_factor_challenges').set({ used_at: now }).where('id', '=', challenge.id).execute();
      const updated = await trx.updateTable('users').set({ last_login_at: now }).where('id', '=', user.id).returningAll().executeTakeFirstOrThrow();
      return { ...(await issueSessionPair(trx, updated, now, settings)), user: updated };
    }),
  );
  // A dead challenge, or MFA gone meanwhile: no verdict on the code, so its attempt is given back
  // whether it matched or not (as a challenge found dead at once compares nothing). A double
  // click's second code no longer matches once the first consumed it, and was counted as a guess.
  if (outcome === INVALID && checked.attempt) await releaseSecondFactorAttempt(ctx.db, checked.attempt).catch(() => undefined);
  if (typeof outcome === 'string') throw new LoginFailedError(outcome, true);
  return outcome;
}
