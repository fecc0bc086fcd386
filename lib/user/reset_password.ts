import type { Kysely } from 'kysely';
import type { Database, UserRow } from '../db/schema';
import type { LibContext } from '../lib-context';
import { endTwoFactorChallenges, issueToken, revokeSessions, revokeTokens } from '../tokens/store';
import { claimToken, consumeToken, inspectToken, unusableTokenError, type SingleUseStatus } from '../tokens/single-use';
import { checkPassword, hashPassword } from '../auth/passwords';
import { writeAudit } from '../audit/audit';
import { links } from '../tokens/links';
import { requireLocalUser, type UserRef } from './find';
import { toUserJson, type UserJson } from './present';
import { ConflictError } from '../errors';

/**
 * An account that signs in through an identity provider has no password here to reset: exit 4
 * naming the provider, rather than a link that would set a password no login ever checks.
 */
function passwordAccount<T extends Pick<UserRow, 'provider' | 'nickname'>>(row: T): T {
  if (row.provider !== 'local') throw new ConflictError(`${row.nickname} signs in through ${row.provider}: change the password there`);
  return row;
}

export interface PasswordResetSettings {
  readonly appUrl: string;
  /** CTL_PASSWORD_RESET_TTL: how long the link works. */
  readonly passwordResetTtlMs: number;
}

export interface PasswordResetIssued {
  readonly user: UserJson;
  /** The raw token, shown or mailed once; only its hash is stored. */
  readonly token: string;
  readonly url: string;
  readonly expiresAt: Date | null;
}

/**
 * Pleroma's `reset_password`: a single-use link to choose a new password, for a local account
 * (`No local user X` otherwise). The current password keeps working until the link is used.
 */
export async function createPasswordReset(ctx: LibContext, userRef: UserRef, settings: PasswordResetSettings): Promise<PasswordResetIssued> {
  return ctx.db.transaction().execute(async (trx) => {
    const row = passwordAccount(await requireLocalUser(trx, userRef, { forUpdate: true }));
    const now = ctx.now();
    const issued = await issueToken(trx, { kind: 'password_reset', userId: row.id, now, ttlMs: settings.passwordResetTtlMs });
    await writeAudit(trx, ctx, {
      verb: 'reset_password',
      targetUserId: row.id,
      targetNickname: row.nickname,
      details: { tokenId: issued.id, expiresAt: issued.expiresAt },
    });
    return { user: toUserJson(row), token: issued.token, url: links.passwordReset(settings.appUrl, issued.token), expiresAt: issued.expiresAt };
  });
}

export interface PasswordResetCheck {
  readonly status: SingleUseStatus;
  readonly nickname?: string;
}

/** Read-only: what the page behind a reset link should show (the form, or why not). */
export async function checkPasswordResetToken(db: Kysely<Database>, token: string, now: Date): Promise<PasswordResetCheck> {
  const found = await inspectToken(db, 'password_reset', token, now);
  return found.status === 'unknown' ? { status: 'unknown' } : { status: found.status, nickname: found.nickname };
}

export interface PasswordChanged {
  readonly userId: number;
  readonly nickname: string;
  /** Live sessions (access, refresh, authorization tokens) that were revoked. */
  readonly sessionsRevoked: number;
}

/**
 * Sets the password through a reset link: in one transaction, with the token row locked, the new
 * hash is stored, the token marked used, the user's other reset links revoked, every session
 * revoked and pending two-factor login ended (revokeSessions), and the audit row written. Unknown token: NotFoundError; used or expired: ConflictError;
 * a password that breaks the rules: UsageError (and the token stays usable).
 */
export async function resetPasswordWithToken(
  ctx: LibContext,
  token: string,
  password: string,
  settings: { readonly bcryptCost: number },
): Promise<PasswordChanged> {
  checkPassword(password);
  // Fail fast on a dead link before spending a bcrypt hash on it; re-checked under the lock below.
  const pre = await inspectToken(ctx.db, 'password_reset', token, ctx.now());
  if (pre.status !== 'valid') throw unusableTokenError(pre.status, 'password reset');
  const hash = await hashPassword(password, settings.bcryptCost);
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const claimed = await claimToken(trx, 'password_reset', token, now, 'password reset');
    // A link issued before the account moved to single sign-on would set a password no login checks.
    passwordAccount(await trx.selectFrom('users').select(['provider', 'nickname']).where('id', '=', claimed.userId).executeTakeFirstOrThrow());
    await trx.updateTable('users').set({ password_hash: hash, updated_at: now }).where('id', '=', claimed.userId).execute();
    await consumeToken(trx, 'password_reset', claimed.tokenId, claimed.userId, now);
    const sessionsRevoked = await revokeSessions(trx, claimed.userId, now);
    await writeAudit(trx, ctx, {
      verb: 'password_reset',
      targetUserId: claimed.userId,
      targetNickname: claimed.nickname,
      details: { tokenId: claimed.tokenId, sessionsRevoked },
    });
    return { userId: claimed.userId, nickname: claimed.nickname, sessionsRevoked };
  });
}

/**
 * LibreChat's `reset-password <email> <new password>`: an admin sets the password directly. Every
 * outstanding reset link of the user is revoked in the same transaction, and every pending
 * two-factor login ended, and every session too unless `keepSessions` (`--keep-sessions`: a
 * routine change that should not sign the user out).
 */
export async function setPassword(
  ctx: LibContext,
  userRef: string,
  password: string,
  settings: { readonly bcryptCost: number },
  options: { readonly keepSessions?: boolean } = {},
): Promise<PasswordChanged & { readonly resetLinksRevoked: number }> {
  const hash = await hashPassword(password, settings.bcryptCost);
  return ctx.db.transaction().execute(async (trx) => {
    const row = passwordAccount(await requireLocalUser(trx, userRef, { forUpdate: true }));
    const now = ctx.now();
    await trx.updateTable('users').set({ password_hash: hash, updated_at: now }).where('id', '=', row.id).execute();
    const resetLinksRevoked = await revokeTokens(trx, row.id, ['password_reset'], now);
    const sessionsRevoked = options.keepSessions ? 0 : await revokeSessions(trx, row.id, now);
    // Pending two-factor logins proved the old password: they end even when sessions are kept.
    if (options.keepSessions) await endTwoFactorChallenges(trx, row.id);
    const details = { sessionsRevoked, resetLinksRevoked, ...(options.keepSessions ? { keptSessions: true } : {}) };
    await writeAudit(trx, ctx, { verb: 'set_password', targetUserId: row.id, targetNickname: row.nickname, details });
    return { userId: row.id, nickname: row.nickname, sessionsRevoked, resetLinksRevoked };
  });
}

/** The local user a reset would be for (dry runs); `No local user X` (exit 3) otherwise. */
export async function findResetTarget(db: Kysely<Database>, userRef: string): Promise<UserJson> {
  return toUserJson(passwordAccount(await requireLocalUser(db, userRef)));
}
