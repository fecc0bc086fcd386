import { randomInt } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type { Database, UserRow } from '../db/schema';
import type { LibContext } from '../lib-context';
import { ConflictError, NotFoundError } from '../errors';
import { writeAudit } from '../audit/audit';
import type { HashPool } from './hash-pool';
import type { Slot } from './limits';
import {
  assertSecondFactorAllowed,
  holdSecondFactorCount,
  recordSecondFactorFailure,
  releaseSecondFactorAttempt,
  takeSecondFactorAttempt,
  type SecondFactorLimits,
} from './second-factor-limit';

/** TOTP as every authenticator app expects it: SHA-1, 6 digits, 30 s steps. */
const PERIOD = 30;
const DIGITS = 6;
export const BACKUP_CODE_COUNT = 10;
// Backup codes are 50 random bits: bcrypt guards them against a stolen table, and a cost above 10
// would only make enrolment slow (ten hashes) without protecting anything more.
const MAX_BACKUP_CODE_COST = 10;
const BACKUP_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * Where backup codes are bcrypt-hashed and compared: the server's hash pool, so their ten
 * compares (~0.65 s at cost 10) never hold the event loop. Login passes its PasswordChecks,
 * which only compare.
 */
export type BackupCodeHasher = Pick<HashPool, 'verify' | 'hashMany'>;

export interface MfaSettings {
  readonly bcryptCost: number;
  /** Shown by authenticator apps next to the account: the app's host name. */
  readonly issuer: string;
}

export function totpFor(secret: string, label = 'user', issuer = 'userctl') {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: DIGITS, period: PERIOD, secret: Secret.fromBase32(secret) });
}

/** The current code for a secret (tests, and nothing else, need this). */
export function totpCode(secret: string, at: Date): string {
  return totpFor(secret).generate({ timestamp: at.getTime() });
}

/**
 * The time step a code belongs to, or null when it is not valid now (one step of clock drift is
 * accepted either way).
 */
export function totpStep(secret: string, code: string, at: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const totp = totpFor(secret);
  const delta = totp.validate({ token: code, timestamp: at.getTime(), window: 1 });
  if (delta === null) return null;
  return totp.counter({ timestamp: at.getTime() }) + delta;
}

function normalizeBackupCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

/** The backup code a typed code is, normalised, or null for a TOTP code or a malformed one. */
function backupCodeOf(code: string): string | null {
  if (/^\d{6}$/.test(code.trim())) return null;
  const wanted = normalizeBackupCode(code);
  return /^[a-z0-9]{10}$/.test(wanted) ? wanted : null;
}

function newBackupCode(): string {
  let raw = '';
  for (let i = 0; i < 10; i++) raw += BACKUP_ALPHABET[randomInt(BACKUP_ALPHABET.length)];
  return `${raw.slice(0, 5)}-${raw.slice(5)}`;
}

export async function newBackupCodes(hasher: Pick<BackupCodeHasher, 'hashMany'>, cost: number): Promise<{ codes: string[]; hashes: string[] }> {
  const codes = Array.from({ length: BACKUP_CODE_COUNT }, newBackupCode);
  const hashes = await hasher.hashMany(codes.map(normalizeBackupCode), Math.min(cost, MAX_BACKUP_CODE_COST));
  return { codes, hashes };
}

/**
 * A second factor as typed, with the stored hash it matched if it is a backup code. Backup codes
 * are compared before the user row is locked (bcrypt is slow); under the lock, verifySecondFactor
 * only consumes the hash that matched.
 */
export interface CheckedCode {
  readonly code: string;
  /** The backup-code hash the code matched; null for a TOTP code or one that matched none. */
  readonly backupHash: string | null;
  /**
   * The wrong-code attempt counted before the compares (checkUserBackupCode with limits), or null:
   * under the lock it is given back if the code is right and stays counted if not, instead of
   * being checked and counted there.
   */
  readonly attempt: Slot | null;
}

/** Compares a backup code with every hash at once (spread over the hasher's workers); no lock held. */
export async function checkBackupCode(verifier: Pick<BackupCodeHasher, 'verify'>, hashes: readonly string[], code: string): Promise<CheckedCode> {
  const wanted = backupCodeOf(code);
  if (wanted === null) return { code, backupHash: null, attempt: null };
  const matches = await Promise.all(hashes.map((hash) => verifier.verify(wanted, hash)));
  return { code, backupHash: hashes[matches.indexOf(true)] ?? null, attempt: null };
}

/**
 * checkBackupCode against a user's codes as they are now, before the caller locks the row. No
 * compare for an account without MFA. With `limits` the attempt is counted first (a
 * SecondFactorLimitError at the limit): wrong codes sent at once cannot each get ten compares.
 */
export async function checkUserBackupCode(
  db: Kysely<Database>,
  verifier: Pick<BackupCodeHasher, 'verify'>,
  userId: number,
  code: string,
  now: Date,
  limits?: SecondFactorLimits,
): Promise<CheckedCode> {
  if (backupCodeOf(code) === null) return { code, backupHash: null, attempt: null };
  const user = await db.selectFrom('users').select(['mfa_enabled', 'mfa_backup_codes']).where('id', '=', userId).executeTakeFirst();
  if (!user?.mfa_enabled) return { code, backupHash: null, attempt: null };
  const attempt = limits ? await takeSecondFactorAttempt(db, userId, now, limits) : null;
  try {
    return { ...(await checkBackupCode(verifier, user.mfa_backup_codes, code)), attempt };
  } catch (error) {
    // Nothing was compared (the pool failed): not a guess.
    if (attempt) await releaseSecondFactorAttempt(db, attempt).catch(() => undefined);
    throw error;
  }
}

/**
 * Gives back the attempt counted for a backup code that matched when no verdict on it was reached
 * (the challenge had died, the account or its MFA changed meanwhile, something failed): its sender
 * knew the code, so it is no wrong guess. A code that matched nothing stays counted.
 */
export async function giveBackUnjudged(db: Kysely<Database>, checked: CheckedCode): Promise<void> {
  if (checked.attempt && checked.backupHash !== null) await releaseSecondFactorAttempt(db, checked.attempt).catch(() => undefined);
}

/**
 * Runs the locked part of a check of `checked` (`judge`, which consumes the code or counts it
 * wrong); when it throws instead, giveBackUnjudged. (A right code's attempt is given back under
 * the lock, a wrong one's stays.)
 */
export async function judgeCheckedCode<T>(db: Kysely<Database>, checked: CheckedCode, judge: () => Promise<T>): Promise<T> {
  try {
    return await judge();
  } catch (error) {
    await giveBackUnjudged(db, checked);
    throw error;
  }
}

/**
 * Checks a second factor inside the caller's transaction (the user row locked) and consumes it:
 * a TOTP code moves mfa_last_step forward so the same code never works twice; a backup code's
 * matched hash (checkBackupCode) is removed from the list, and only if it is still there, so a
 * backup code used twice at once works once. Six digits are a TOTP code, anything else a backup code.
 */
export async function verifySecondFactor(trx: Transaction<Database>, user: UserRow, checked: CheckedCode, now: Date): Promise<boolean> {
  if (!user.mfa_totp_secret) return false;
  const trimmed = checked.code.trim();
  if (/^\d{6}$/.test(trimmed)) {
    const step = totpStep(user.mfa_totp_secret, trimmed, now);
    if (step === null || (user.mfa_last_step !== null && step <= user.mfa_last_step)) return false;
    await trx.updateTable('users').set({ mfa_last_step: step }).where('id', '=', user.id).execute();
    return true;
  }
  const hash = checked.backupHash;
  if (hash === null || !user.mfa_backup_codes.includes(hash)) return false;
  await trx
    .updateTable('users')
    .set({ mfa_backup_codes: user.mfa_backup_codes.filter((h) => h !== hash) })
    .where('id', '=', user.id)
    .execute();
  return true;
}

export interface Enrolment {
  /** Base32, for typing into an app by hand. */
  readonly secret: string;
  /** otpauth://totp/... for a QR code. */
  readonly otpauthUrl: string;
  /** Shown once; stored only as bcrypt hashes. */
  readonly backupCodes: readonly string[];
}

export async function lockUser(trx: Transaction<Database>, userId: number): Promise<UserRow> {
  const user = await trx.selectFrom('users').selectAll().where('id', '=', userId).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
  if (!user) throw new NotFoundError('No such user');
  return user;
}

/**
 * Starts enrolment: a fresh secret and backup codes, stored but not in force until
 * confirmMfa proves the app has the secret. Starting again replaces an unconfirmed enrolment.
 */
export async function beginMfa(ctx: LibContext, hasher: BackupCodeHasher, userId: number, settings: MfaSettings): Promise<Enrolment> {
  const secret = new Secret({ size: 20 }).base32;
  const { codes, hashes } = await newBackupCodes(hasher, settings.bcryptCost);
  return ctx.db.transaction().execute(async (trx) => {
    const user = await lockUser(trx, userId);
    if (user.mfa_enabled) throw new ConflictError('Two-factor authentication is already enabled');
    await trx
      .updateTable('users')
      .set({ mfa_totp_secret: secret, mfa_backup_codes: hashes, mfa_last_step: null, updated_at: ctx.now() })
      .where('id', '=', userId)
      .execute();
    await writeAudit(trx, ctx, { verb: 'mfa_begin', targetUserId: user.id, targetNickname: user.nickname });
    const otpauthUrl = totpFor(secret, user.nickname, settings.issuer).toString();
    return { secret, otpauthUrl, backupCodes: codes };
  });
}

/**
 * The time step of an enrolment's code (the secret being proved, not yet in force), or null when
 * wrong, checked in `trx` with the user row locked. With `limits` it is the account's wrong-code
 * limit (second-factor-limit.ts), as for every other code: SecondFactorLimitError at the limit,
 * even for the right code; a wrong code is counted, a right one is not (as at verify-temp).
 */
export async function limitedEnrolmentStep(
  trx: Transaction<Database>,
  userId: number,
  secret: string,
  code: string,
  now: Date,
  limits?: SecondFactorLimits,
): Promise<number | null> {
  if (limits) {
    // Until this transaction ends: a backup code's attempt taken meanwhile counts after this one.
    await holdSecondFactorCount(trx, userId, limits);
    await assertSecondFactorAllowed(trx, userId, now, limits);
  }
  const step = totpStep(secret, code.trim(), now);
  if (step === null && limits) await recordSecondFactorFailure(trx, userId, now, limits);
  return step;
}

/**
 * Puts MFA in force once the user proves their app has the secret. false: the code was wrong.
 * With `limits`, wrong codes count against the account's limit (limitedEnrolmentStep).
 */
export async function confirmMfa(ctx: LibContext, userId: number, code: string, limits?: SecondFactorLimits): Promise<boolean> {
  const now = ctx.now();
  return ctx.db.transaction().execute(async (trx) => {
    const user = await lockUser(trx, userId);
    if (user.mfa_enabled) throw new ConflictError('Two-factor authentication is already enabled');
    if (!user.mfa_totp_secret) throw new ConflictError('Start the enrolment first (POST /api/auth/2fa/enable)');
    const step = await limitedEnrolmentStep(trx, user.id, user.mfa_totp_secret, code, now, limits);
    if (step === null) return false;
    await trx.updateTable('users').set({ mfa_enabled: true, mfa_last_step: step, updated_at: now }).where('id', '=', userId).execute();
    await writeAudit(trx, ctx, {
      verb: 'mfa_enable',
      targetUserId: user.id,
      targetNickname: user.nickname,
      details: { backupCodes: user.mfa_backup_codes.length },
    });
    return true;
  });
}

/**
 * verifySecondFactor under the account's wrong-code limit (second-factor-limit.ts), the user row
 * locked, the code checked by checkUserBackupCode before: verify-temp and a signed-in user's own
 * changes (disable, regenerate, re-enrol, delete). A TOTP code is checked and counted here; a
 * backup code's attempt was counted before its compares, and is given back here when right.
 */
export async function verifyLimitedSecondFactor(
  trx: Transaction<Database>,
  user: UserRow,
  checked: CheckedCode,
  now: Date,
  limits?: SecondFactorLimits,
): Promise<boolean> {
  if (checked.attempt) {
    // Counted before the compares: given back when right, left counted when wrong.
    const right = await verifySecondFactor(trx, user, checked, now);
    if (right) await releaseSecondFactorAttempt(trx, checked.attempt);
    return right;
  }
  if (limits) {
    // Until this transaction ends: a backup code's attempt taken meanwhile counts after this one.
    await holdSecondFactorCount(trx, user.id, limits);
    await assertSecondFactorAllowed(trx, user.id, now, limits);
  }
  const ok = await verifySecondFactor(trx, user, checked, now);
  if (!ok && limits) await recordSecondFactorFailure(trx, user.id, now, limits);
  return ok;
}

/** Turns MFA off with a valid code (TOTP or backup). false: the code was wrong. */
export async function disableMfa(ctx: LibContext, hasher: BackupCodeHasher, userId: number, code: string, limits?: SecondFactorLimits): Promise<boolean> {
  const now = ctx.now();
  const checked = await checkUserBackupCode(ctx.db, hasher, userId, code, now, limits);
  return judgeCheckedCode(ctx.db, checked, () =>
    ctx.db.transaction().execute(async (trx) => {
      const user = await lockUser(trx, userId);
      if (!user.mfa_enabled) throw new ConflictError('Two-factor authentication is not enabled');
      if (!(await verifyLimitedSecondFactor(trx, user, checked, now, limits))) return false;
      await trx
        .updateTable('users')
        .set({ mfa_enabled: false, mfa_totp_secret: null, mfa_backup_codes: [], mfa_last_step: null, updated_at: now })
        .where('id', '=', userId)
        .execute();
      await writeAudit(trx, ctx, { verb: 'mfa_disable', targetUserId: user.id, targetNickname: user.nickname, details: { by: 'user' } });
      return true;
    }),
  );
}

/** New backup codes (the old ones stop working), with a valid code. null: the code was wrong. */
export async function regenerateBackupCodes(
  ctx: LibContext,
  hasher: BackupCodeHasher,
  userId: number,
  code: string,
  settings: MfaSettings,
  limits?: SecondFactorLimits,
): Promise<readonly string[] | null> {
  const now = ctx.now();
  const checked = await checkUserBackupCode(ctx.db, hasher, userId, code, now, limits);
  return judgeCheckedCode(ctx.db, checked, async () => {
    // A TOTP code at the limit is refused before ten new codes are hashed for nothing.
    if (limits && !checked.attempt) await assertSecondFactorAllowed(ctx.db, userId, now, limits);
    const { codes, hashes } = await newBackupCodes(hasher, settings.bcryptCost);
    return ctx.db.transaction().execute(async (trx) => {
      const user = await lockUser(trx, userId);
      if (!user.mfa_enabled) throw new ConflictError('Two-factor authentication is not enabled');
      if (!(await verifyLimitedSecondFactor(trx, user, checked, now, limits))) return null;
      await trx.updateTable('users').set({ mfa_backup_codes: hashes, updated_at: now }).where('id', '=', userId).execute();
      await writeAudit(trx, ctx, { verb: 'mfa_backup_codes', targetUserId: user.id, targetNickname: user.nickname, details: { backupCodes: hashes.length } });
      return codes;
    });
  });
}
