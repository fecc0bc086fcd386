import { Secret } from 'otpauth';
import type { Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { writeAudit } from '../audit/audit';
import { ConflictError, UsageError } from '../errors';
import {
  beginMfa,
  checkUserBackupCode,
  confirmMfa,
  judgeCheckedCode,
  limitedEnrolmentStep,
  lockUser,
  newBackupCodes,
  totpFor,
  verifyLimitedSecondFactor,
  type BackupCodeHasher,
  type Enrolment,
  type MfaSettings,
} from './mfa';
import { assertSecondFactorAllowed, type SecondFactorLimits } from './second-factor-limit';

/**
 * Two-factor enrolment as LibreChat's settings screen runs it: enable → verify (a check that
 * consumes nothing, so the same code then goes to confirm) → confirm. Enabling while two-factor is
 * on re-enrols: it takes a current code (TOTP or backup, consumed), and the new secret and codes
 * wait in mfa_reenrolments, the old ones in force, until confirm proves the new secret.
 */

/** What enable answers: null code when two-factor is off, else the current code re-enrolment needs. */
export async function enableOrReenrol(
  ctx: LibContext,
  hasher: BackupCodeHasher,
  userId: number,
  code: string | null,
  settings: MfaSettings,
  limits: SecondFactorLimits,
): Promise<Enrolment | null> {
  const current = await ctx.db.selectFrom('users').select('mfa_enabled').where('id', '=', userId).executeTakeFirstOrThrow();
  if (!current.mfa_enabled) {
    await ctx.db.deleteFrom('mfa_reenrolments').where('user_id', '=', userId).execute();
    return beginMfa(ctx, hasher, userId, settings);
  }
  if (code === null) throw new UsageError('Two-factor authentication is on: send a current code (token or backupCode) to enrol again');
  const secret = new Secret({ size: 20 }).base32;
  const checked = await checkUserBackupCode(ctx.db, hasher, userId, code, ctx.now(), limits);
  return judgeCheckedCode(ctx.db, checked, async () => {
    // A TOTP code at the limit is refused before ten new codes are hashed for nothing.
    if (!checked.attempt) await assertSecondFactorAllowed(ctx.db, userId, ctx.now(), limits);
    const { codes, hashes } = await newBackupCodes(hasher, settings.bcryptCost);
    return ctx.db.transaction().execute(async (trx) => {
      const user = await lockUser(trx, userId);
      if (!user.mfa_enabled) throw new ConflictError('Two-factor authentication was turned off meanwhile; enable it again');
      if (!(await verifyLimitedSecondFactor(trx, user, checked, ctx.now(), limits))) return null;
      await trx
        .insertInto('mfa_reenrolments')
        .values({ user_id: userId, totp_secret: secret, backup_codes: hashes, created_at: ctx.now() })
        .onConflict((oc) => oc.column('user_id').doUpdateSet({ totp_secret: secret, backup_codes: hashes, created_at: ctx.now() }))
        .execute();
      await writeAudit(trx, ctx, { verb: 'mfa_begin', targetUserId: user.id, targetNickname: user.nickname, details: { reenrolment: true } });
      return { secret, otpauthUrl: totpFor(secret, user.nickname, settings.issuer).toString(), backupCodes: codes };
    });
  });
}

/** The secret an enrolment under way is proving: a pending re-enrolment's, else an unconfirmed one's; null when none. */
async function enrollingSecret(db: Db, userId: number): Promise<string | null> {
  const pending = await db.selectFrom('mfa_reenrolments').select('totp_secret').where('user_id', '=', userId).executeTakeFirst();
  const user = await db.selectFrom('users').select(['mfa_enabled', 'mfa_totp_secret']).where('id', '=', userId).executeTakeFirstOrThrow();
  if (user.mfa_enabled) return pending?.totp_secret ?? null;
  return user.mfa_totp_secret;
}

/**
 * verify: is the code right for the enrolment under way? Consumes nothing; ConflictError with none
 * under way. With `limits` a wrong code counts as confirm's does: else verify would be the
 * unlimited oracle that confirm's limit is there to deny.
 */
export async function checkEnrolmentCode(ctx: LibContext, userId: number, code: string, limits?: SecondFactorLimits): Promise<boolean> {
  return ctx.db.transaction().execute(async (trx) => {
    // The row's lock before the limiter's, the order holdSecondFactorCount needs.
    await lockUser(trx, userId);
    const secret = await enrollingSecret(trx, userId);
    if (secret === null) throw new ConflictError('No two-factor enrolment is under way (POST /api/auth/2fa/enable first)');
    return (await limitedEnrolmentStep(trx, userId, secret, code, ctx.now(), limits)) !== null;
  });
}

/**
 * confirm: puts the enrolment under way in force (a re-enrolment replaces the old secret and codes).
 * With `limits`, wrong codes count against the account's wrong-code limit, then 429 even for the
 * right code (limitedEnrolmentStep).
 */
export async function confirmEnrolment(ctx: LibContext, userId: number, code: string, limits?: SecondFactorLimits): Promise<boolean> {
  const pending = await ctx.db.selectFrom('mfa_reenrolments').selectAll().where('user_id', '=', userId).executeTakeFirst();
  const enabled = (await ctx.db.selectFrom('users').select('mfa_enabled').where('id', '=', userId).executeTakeFirstOrThrow()).mfa_enabled;
  if (!enabled || !pending) return confirmMfa(ctx, userId, code, limits);
  const now = ctx.now();
  return ctx.db.transaction().execute(async (trx) => {
    const user = await lockUser(trx, userId);
    const again = await trx.selectFrom('mfa_reenrolments').selectAll().where('user_id', '=', userId).forUpdate().executeTakeFirst();
    if (!user.mfa_enabled || !again) throw new ConflictError('The re-enrolment is no longer under way; enable again');
    const step = await limitedEnrolmentStep(trx, userId, again.totp_secret, code, now, limits);
    if (step === null) return false;
    await trx
      .updateTable('users')
      .set({ mfa_totp_secret: again.totp_secret, mfa_backup_codes: again.backup_codes, mfa_last_step: step, updated_at: now })
      .where('id', '=', userId)
      .execute();
    await trx.deleteFrom('mfa_reenrolments').where('user_id', '=', userId).execute();
    await writeAudit(trx, ctx, {
      verb: 'mfa_enable',
      targetUserId: user.id,
      targetNickname: user.nickname,
      details: { reenrolment: true, backupCodes: again.backup_codes.length },
    });
    return true;
  });
}
