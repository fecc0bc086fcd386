import type { Transaction } from 'kysely';
import type { Database, UserRow, Db } from '../db/schema';
import { ConflictError } from '../errors';

type AdminState = Pick<UserRow, 'id' | 'nickname' | 'admin' | 'local' | 'active' | 'deleted_at'>;

/** Whether `user` is a local, active, not-deleted admin: one the last-admin rule protects. */
export function isActiveLocalAdmin(user: AdminState): boolean {
  return user.admin && user.local && user.active && user.deleted_at === null;
}

function activeAdmins(db: Db) {
  return db
    .selectFrom('users')
    .select('id')
    .where('admin', '=', true)
    .where('local', '=', true)
    .where('active', '=', true)
    .where('deleted_at', 'is', null)
    .orderBy('id');
}

/**
 * Locks the active local admins (FOR UPDATE, in id order): what a change that may remove an admin
 * takes before the row it changes (see lockUserGuardingLastAdmin), for a caller that finds that
 * row its own way (a single sign-on login).
 */
export async function lockActiveAdmins(trx: Transaction<Database>): Promise<void> {
  await activeAdmins(trx).forUpdate().execute();
}

/** What is about to happen to the admin, as the refusal says it (`refusing to <action> alice`). */
export type AdminAction = 'delete' | 'deactivate' | 'remove admin status from';

/** Whether `user` is the only local, active, not-deleted admin (`lock`: lock the active admins, FOR UPDATE). */
export async function isLastActiveAdmin(db: Db, user: AdminState, lock: boolean): Promise<boolean> {
  if (!isActiveLocalAdmin(user)) return false;
  const admins = await (lock ? activeAdmins(db).forUpdate() : activeAdmins(db)).execute();
  return admins.every((a) => a.id === user.id);
}

/**
 * Exit 4 when `user` is the only local, active, not-deleted admin: deleting, deactivating or
 * demoting it would lock every admin out. `lock`: inside a transaction, lock the active admins
 * (FOR UPDATE).
 */
export async function assertNotLastAdmin(db: Db, user: AdminState, action: AdminAction, lock = true): Promise<void> {
  if (await isLastActiveAdmin(db, user, lock)) {
    throw new ConflictError(`refusing to ${action} ${user.nickname}: it is the last active admin (make another user admin first: ctl user set <user> --admin)`);
  }
}

/**
 * Finds and locks the user a delete, deactivate or demotion (`set --no-admin`) is about to change,
 * refusing the last active admin. For an admin, every active admin row is locked first, in id
 * order, and only then the user's own row: every verb that can remove an admin takes its locks in
 * this one order, so two runs removing the last two admins at once queue on the same first row
 * instead of deadlocking, and the second re-reads and refuses (exit 4).
 */
export async function lockUserGuardingLastAdmin<U extends AdminState>(
  trx: Transaction<Database>,
  find: (forUpdate: boolean) => Promise<U>,
  action: AdminAction,
): Promise<U> {
  const seen = await find(false);
  if (isActiveLocalAdmin(seen)) await lockActiveAdmins(trx);
  const user = await find(true);
  await assertNotLastAdmin(trx, user, action, true);
  return user;
}
