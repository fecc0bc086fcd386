import { sql } from 'kysely';
import type { Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { ConflictError } from '../errors';
import { hashPassword } from '../auth/passwords';
import { userConflict } from '../db/pg-errors';
import { assertAvailable, insertUser, planNewUser, type CreateUserSettings, type CreatedUser } from './new';

export interface FirstAdminInput {
  readonly nickname: string;
  readonly email: string;
  readonly password: string;
}

/**
 * Whether the launchpad is closed: any account has ever been made admin and still exists, even
 * deactivated or soft-deleted. The last-admin guard keeps the last active admin from being
 * deleted, deactivated or demoted, so once open is never again, as Overleaf's launchpad.
 */
export async function adminExists(db: Db): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('admin', '=', true).limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Overleaf's `/launchpad`: creates the first administrator (confirmed, with the given password) as
 * `ctl user new --admin` would, with its audit row, only while no admin exists. Two first admins
 * at once: a transaction-scoped advisory lock makes the second wait, re-check and be refused
 * (exit 4), so exactly one is created.
 */
export async function createFirstAdmin(ctx: LibContext, input: FirstAdminInput, settings: CreateUserSettings): Promise<CreatedUser> {
  // Closed first: once an admin exists, no input is worth a reply about its nickname, address or
  // password (the page would show the form again, saying no administrator exists).
  if (await adminExists(ctx.db)) throw launchpadClosed();
  const plan = planNewUser({ nickname: input.nickname, email: input.email, password: input.password, admin: true, confirmed: true });
  // Taken names are said as `ctl user new` says them; a race for one ends at the unique indexes.
  await assertAvailable(ctx.db, plan.nickname, plan.email);
  const hash = await hashPassword(input.password, settings.bcryptCost);
  try {
    return await ctx.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('userctl:launchpad'))`.execute(trx);
      if (await adminExists(trx)) throw launchpadClosed();
      return insertUser(trx, ctx, plan, hash, settings, { launchpad: true });
    });
  } catch (error) {
    throw userConflict(error, plan.nickname, plan.email) ?? error;
  }
}

function launchpadClosed(): ConflictError {
  return new ConflictError('an administrator already exists: the launchpad is closed (sign in at /admin, or ask an administrator)');
}
