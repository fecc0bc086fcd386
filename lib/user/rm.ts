import { sql, type Transaction } from 'kysely';
import type { Database, TokenKind, UserRow, Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { auditFrom } from '../audit/audit';
import { NotFoundError } from '../errors';
import { findUser, refText, type UserRef } from './find';
import { assertNotLastAdmin, lockUserGuardingLastAdmin } from './last-admin';

/** Every kind of token: a deleted account keeps none alive (sessions, reset and confirmation links). */
export const ALL_TOKEN_KINDS: readonly TokenKind[] = ['access', 'refresh', 'authorization', 'password_reset', 'email_confirmation'];

export interface RetentionSettings {
  /** Days a soft-deleted account can be restored before purge_deleted removes it (CTL_RETENTION_DAYS). */
  readonly retentionDays: number;
}

export interface SoftDeleteResult {
  readonly id: number;
  readonly nickname: string;
  /** false: the account was already soft-deleted and nothing changed. */
  readonly changed: boolean;
  readonly deletedAt: Date;
  /** The last moment `restore` works; purge_deleted removes the account after it. */
  readonly restorableUntil: Date;
  /** Live tokens revoked (or, in a plan, that would be). */
  readonly revokedTokens: number;
  readonly dryRun: boolean;
}

export function restorableUntil(deletedAt: Date, settings: RetentionSettings): Date {
  return new Date(deletedAt.getTime() + settings.retentionDays * 86400e3);
}

/** `No local user X` (exit 3) unless a local account, soft-deleted or not, has that nickname or email. */
export async function requireLocalUserIncludingDeleted(db: Db, ref: UserRef, forUpdate = false): Promise<UserRow> {
  const user = await findUser(db, ref, { localOnly: true, includeDeleted: true, forUpdate });
  if (!user) throw new NotFoundError(`No local user ${refText(ref)}`);
  return user;
}

async function countLiveTokens(db: Db, userId: number): Promise<number> {
  const row = await db
    .selectFrom('tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function result(user: UserRow, deletedAt: Date, changed: boolean, revokedTokens: number, dryRun: boolean, settings: RetentionSettings): SoftDeleteResult {
  return { id: user.id, nickname: user.nickname, changed, deletedAt, restorableUntil: restorableUntil(deletedAt, settings), revokedTokens, dryRun };
}

/**
 * What `rm <user>` would do, writing nothing: exit 3 for a missing or remote user, exit 4 for the
 * last active admin, `changed: false` for an account that is already soft-deleted.
 */
export async function planSoftDelete(ctx: LibContext, ref: UserRef, settings: RetentionSettings): Promise<SoftDeleteResult> {
  const user = await requireLocalUserIncludingDeleted(ctx.db, ref);
  if (user.deleted_at !== null) return result(user, user.deleted_at, false, 0, true, settings);
  await assertNotLastAdmin(ctx.db, user, 'delete', false);
  return result(user, ctx.now(), true, await countLiveTokens(ctx.db, user.id), true, settings);
}

/**
 * Soft delete (Overleaf's model): marks the account deleted and deactivated and revokes every
 * token, in one transaction with its audit row. The data stays until purge_deleted removes it
 * after the retention window; `restore` undoes this until then. Already deleted: nothing changes.
 */
export async function softDeleteUser(ctx: LibContext, ref: UserRef, settings: RetentionSettings): Promise<SoftDeleteResult> {
  return ctx.db.transaction().execute(async (trx) => {
    const user = await lockUserGuardingLastAdmin(trx, (forUpdate) => requireLocalUserIncludingDeleted(trx, ref, forUpdate), 'delete');
    if (user.deleted_at !== null) return result(user, user.deleted_at, false, 0, false, settings);
    return softDeleteLocked(trx, ctx, user, settings, {});
  });
}

/**
 * The soft delete of a user whose row the caller has locked in `trx` with
 * lockUserGuardingLastAdmin. Also the first stage of a purge, so that an interrupted purge leaves
 * a deleted, signed-out account (and a re-run finds it). `asyncCommit`: `trx` commits without
 * waiting for its WAL flush, for a purge, whose later batches' synchronous commit (or the flush
 * when one fails or is interrupted) puts it on disk with them; a server crash before that loses it
 * with them, the account as it was.
 */
export async function softDeleteLocked(
  trx: Transaction<Database>,
  ctx: LibContext,
  user: UserRow,
  settings: RetentionSettings,
  extra: Record<string, unknown>,
  asyncCommit = false,
): Promise<SoftDeleteResult> {
  const now = ctx.now();
  // One statement: the account, its tokens, its pending two-factor logins and the audit row (with
  // the count of tokens revoked).
  const { rows } = await sql<{ revoked: number }>`
    WITH changed AS (
      UPDATE users SET deleted_at = ${now}, active = false, updated_at = ${now} WHERE id = ${user.id} RETURNING id
    ), revoked AS (
      UPDATE tokens SET revoked_at = ${now}
      WHERE user_id = ${user.id} AND kind = ANY(${[...ALL_TOKEN_KINDS]}::text[]) AND revoked_at IS NULL AND used_at IS NULL
      RETURNING 1
    ), challenges AS (
      DELETE FROM two_factor_challenges WHERE user_id = ${user.id}
    ), counted AS (
      SELECT count(*)::int AS revoked FROM revoked
    ), audit AS (
      ${auditFrom(ctx, { verb: 'rm', targetUserId: user.id, targetNickname: user.nickname, details: { soft: true, wasActive: user.active, ...extra } }, 'counted', sql`jsonb_build_object('revokedTokens', counted.revoked)`)}
    )
    SELECT revoked${asyncCommit ? sql`, set_config('synchronous_commit', 'off', true) AS commit` : sql``} FROM counted`.execute(trx);
  const revokedTokens = Number(rows[0].revoked);
  return result(user, now, true, revokedTokens, false, settings);
}
