import type { ExpressionBuilder, Transaction } from 'kysely';
import type { Database, Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { writeAudit } from '../audit/audit';
import { revokeLinks, revokeSessions, SESSION_KINDS } from '../tokens/store';
import { countRevocable } from './sign_out';
import { requireUser, type UserRef } from './find';
import { assertNotLastAdmin, lockUserGuardingLastAdmin } from './last-admin';

export interface ActivationResult {
  readonly id: number;
  readonly nickname: string;
  readonly active: boolean;
  /** false: it already was, nothing changed. */
  readonly changed: boolean;
  /** Follows removed between the user and local users, both directions (deactivate only). */
  readonly unfollowed: number;
  /** Session tokens (access, refresh, authorization) revoked: those neither revoked nor used yet (deactivate only). */
  readonly revokedSessions: number;
  readonly dryRun: boolean;
}

/** Follows between `userId` and local users, in both directions. */
function withLocalUsers(userId: number) {
  return (eb: ExpressionBuilder<Database, 'follows'>) => {
    const localIds = () => eb.selectFrom('users').select('users.id').where('users.local', '=', true);
    return eb.or([
      eb.and([eb('follows.follower_id', '=', userId), eb('follows.following_id', 'in', localIds())]),
      eb.and([eb('follows.following_id', '=', userId), eb('follows.follower_id', 'in', localIds())]),
    ]);
  };
}

async function countLocalFollows(db: Db, userId: number): Promise<number> {
  const row = await db
    .selectFrom('follows')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(withLocalUsers(userId))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function deleteLocalFollows(trx: Transaction<Database>, userId: number): Promise<number> {
  const result = await trx.deleteFrom('follows').where(withLocalUsers(userId)).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** `activate <user>`: any user (`No user X`, exit 3); already active is exit 0 with nothing changed. */
export async function activateUser(ctx: LibContext, ref: UserRef, opts: { readonly dryRun?: boolean } = {}): Promise<ActivationResult> {
  const run = async (db: Db, write: Transaction<Database> | null): Promise<ActivationResult> => {
    const user = await requireUser(db, ref, { forUpdate: write !== null });
    const base = { id: user.id, nickname: user.nickname, active: true, unfollowed: 0, revokedSessions: 0, dryRun: write === null };
    if (user.active) return { ...base, changed: false };
    if (write) {
      await write.updateTable('users').set({ active: true, updated_at: ctx.now() }).where('id', '=', user.id).execute();
      await writeAudit(write, ctx, { verb: 'activate', targetUserId: user.id, targetNickname: user.nickname, details: { active: true } });
    }
    return { ...base, changed: true };
  };
  if (opts.dryRun) return run(ctx.db, null);
  return ctx.db.transaction().execute((trx) => run(trx, trx));
}

/**
 * `deactivate <user>`: any user (`No user X`, exit 3). In one transaction: removes the follows
 * between the user and local users (both directions, as Pleroma), revokes its sessions and its
 * set-password and confirmation links (they stay dead after `activate`: ask for new ones) and
 * deactivates it, with its audit row. Exit 4 for the last active admin. No sleeps.
 */
export async function deactivateUser(ctx: LibContext, ref: UserRef, opts: { readonly dryRun?: boolean } = {}): Promise<ActivationResult> {
  const unchanged = (user: { id: number; nickname: string }, dryRun: boolean): ActivationResult => ({
    id: user.id,
    nickname: user.nickname,
    active: false,
    changed: false,
    unfollowed: 0,
    revokedSessions: 0,
    dryRun,
  });
  if (opts.dryRun) {
    const user = await requireUser(ctx.db, ref);
    if (!user.active) return unchanged(user, true);
    await assertNotLastAdmin(ctx.db, user, 'deactivate', false);
    return {
      id: user.id,
      nickname: user.nickname,
      active: false,
      changed: true,
      unfollowed: await countLocalFollows(ctx.db, user.id),
      revokedSessions: await countRevocable(ctx.db, user.id, SESSION_KINDS),
      dryRun: true,
    };
  }
  return ctx.db.transaction().execute(async (trx) => {
    const user = await lockUserGuardingLastAdmin(trx, (forUpdate) => requireUser(trx, ref, { forUpdate }), 'deactivate');
    if (!user.active) return unchanged(user, false);
    const now = ctx.now();
    const unfollowed = await deleteLocalFollows(trx, user.id);
    const revokedSessions = await revokeSessions(trx, user.id, now);
    const revokedLinks = await revokeLinks(trx, user.id, now);
    await trx.updateTable('users').set({ active: false, updated_at: now }).where('id', '=', user.id).execute();
    await writeAudit(trx, ctx, {
      verb: 'deactivate',
      targetUserId: user.id,
      targetNickname: user.nickname,
      details: { active: false, unfollowed, revokedSessions, ...(revokedLinks > 0 ? { revokedLinks } : {}) },
    });
    return { id: user.id, nickname: user.nickname, active: false, changed: true, unfollowed, revokedSessions, dryRun: false };
  });
}
