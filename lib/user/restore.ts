import { sql } from 'kysely';
import type { UserRow, Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { writeAudit } from '../audit/audit';
import { ConflictError } from '../errors';
import type { UserRef } from './find';
import { requireLocalUserIncludingDeleted, restorableUntil, type RetentionSettings } from './rm';
import { PURGE_JOBS } from './purge';

export interface RestoreResult {
  readonly id: number;
  readonly nickname: string;
  /** false: the account was not deleted and nothing changed. */
  readonly changed: boolean;
  /** Whether the restored account is active: it is only if it was active when it was deleted. */
  readonly active: boolean;
  /** When it had been deleted (null when it was not). */
  readonly deletedAt: Date | null;
  readonly dryRun: boolean;
}

/**
 * Whether the account was active when `rm` deleted it, from that rm's audit row (written in the
 * same transaction as the delete, so it is there exactly when the delete is). A banned account
 * that was then deleted comes back banned; with no such row (deleted by the app), it stays
 * deactivated, the safe side: `activate` is one command away.
 */
async function wasActiveBeforeDelete(db: Db, userId: number): Promise<boolean> {
  const row = await db
    .selectFrom('audit_log')
    .select(sql<string | null>`details->>'wasActive'`.as('was_active'))
    .where('target_user_id', '=', userId)
    .where('verb', '=', 'rm')
    .where(sql<boolean>`details->>'soft' = 'true'`)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.was_active === 'true';
}

function checkWindow(user: UserRow, deletedAt: Date, now: Date, settings: RetentionSettings): void {
  if (restorableUntil(deletedAt, settings) < now) {
    throw new ConflictError(
      `cannot restore ${user.nickname}: deleted on ${deletedAt.toISOString().slice(0, 10)}, more than ${settings.retentionDays} days ago (CTL_RETENTION_DAYS): past the retention window`,
    );
  }
}

/** What `restore <user>` would do, writing nothing. */
export async function planRestore(ctx: LibContext, ref: UserRef, settings: RetentionSettings): Promise<RestoreResult> {
  const user = await requireLocalUserIncludingDeleted(ctx.db, ref);
  if (user.deleted_at === null) return { id: user.id, nickname: user.nickname, changed: false, active: user.active, deletedAt: null, dryRun: true };
  checkWindow(user, user.deleted_at, ctx.now(), settings);
  return {
    id: user.id,
    nickname: user.nickname,
    changed: true,
    active: await wasActiveBeforeDelete(ctx.db, user.id),
    deletedAt: user.deleted_at,
    dryRun: true,
  };
}

/**
 * Undoes a soft delete inside the retention window (exit 4 past it), in one transaction with its
 * audit row. Revoked tokens stay revoked: the user signs in again. Refused (exit 4) while a purge
 * runs, which could be deleting this account's data between its batches.
 */
export async function restoreUser(ctx: LibContext, ref: UserRef, settings: RetentionSettings): Promise<RestoreResult> {
  return ctx.db.transaction().execute(async (trx) => {
    const user = await requireLocalUserIncludingDeleted(trx, ref, true);
    if (user.deleted_at === null) return { id: user.id, nickname: user.nickname, changed: false, active: user.active, deletedAt: null, dryRun: false };
    const now = ctx.now();
    checkWindow(user, user.deleted_at, now, settings);
    for (const job of PURGE_JOBS) {
      // Held until this transaction ends; conflicts with the bulk lock of a running purge.
      const { rows } = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(hashtext(${`userctl:${job}`})) AS ok`.execute(trx);
      if (!rows[0]?.ok) throw new ConflictError(`cannot restore ${user.nickname} while ${job} is running: try again when it has finished`);
    }
    const active = await wasActiveBeforeDelete(trx, user.id);
    await trx.updateTable('users').set({ deleted_at: null, active, updated_at: now }).where('id', '=', user.id).execute();
    await writeAudit(trx, ctx, {
      verb: 'restore',
      targetUserId: user.id,
      targetNickname: user.nickname,
      details: { deletedAt: user.deleted_at.toISOString(), active },
    });
    return { id: user.id, nickname: user.nickname, changed: true, active, deletedAt: user.deleted_at, dryRun: false };
  });
}
