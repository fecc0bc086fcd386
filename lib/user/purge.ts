import type { ExpressionBuilder, Transaction } from 'kysely';
import type { Database, Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { writeAudit, writeAuditForUsers } from '../audit/audit';
import { NotFoundError } from '../errors';
import type { BatchProgress, BatchSizing } from '../bulk/batches';
import { runBulkJob } from '../bulk/job';
import { requireLocalUserIncludingDeleted, softDeleteLocked, type RetentionSettings } from './rm';
import { assertNotLastAdmin, lockUserGuardingLastAdmin } from './last-admin';
import { idArray } from '../bulk/sql';

/** The bulk locks of the jobs that hard-delete accounts (`restore` waits for neither). */
export const PURGE_JOBS = ['rm', 'purge_deleted'] as const;

/** Rows per table that a purge deletes (or would). A follow between two purged users counts once. */
export interface OwnedCounts {
  readonly users: number;
  readonly activities: number;
  readonly follows: number;
  readonly tokens: number;
}

export interface PurgeSettings extends RetentionSettings, BatchSizing {}

export interface PurgeRunOptions {
  /** Ctrl-C: stop after the current batch (exit 130; a re-run finishes the job). */
  readonly signal?: AbortSignal;
  readonly onProgress?: (stage: 'activities' | 'users', progress: BatchProgress) => void;
  /**
   * The activities the plan counted just before (the progress total), so the run does not count
   * them again: an index scan of its own, ~70 ms per million.
   */
  readonly expectedActivities?: number;
}

/** Which accounts: one user, or every account soft-deleted before a moment. */
type Scope = { readonly userId: number } | { readonly deletedBefore: Date };

function scopeIds(db: Db, scope: Scope) {
  const query = db.selectFrom('users').select('users.id');
  return 'userId' in scope
    ? query.where('users.id', '=', scope.userId)
    : query.where('users.deleted_at', 'is not', null).where('users.deleted_at', '<', scope.deletedBefore);
}

/** The activities of the accounts in scope: for one user a plain `actor_id = $1`, so the (actor_id, id) index serves it. */
function ownedBy(db: Db, scope: Scope) {
  return (eb: ExpressionBuilder<Database, 'activities'>) =>
    'userId' in scope ? eb('activities.actor_id', '=', scope.userId) : eb('activities.actor_id', 'in', scopeIds(db, scope));
}

/**
 * What the accounts in scope own, in one statement. The follows are the UNION of two index scans
 * (as follower, as followed), which also counts a follow between two of them once; an OR of the
 * two `IN`s read the whole follows table.
 */
async function countOwned(db: Db, scope: Scope): Promise<OwnedCounts> {
  const row = await db
    .selectNoFrom((eb) => [
      eb.selectFrom('users').select(eb.fn.countAll<number>().as('n')).where('id', 'in', scopeIds(db, scope)).as('users'),
      eb.selectFrom('activities').select(eb.fn.countAll<number>().as('n')).where(ownedBy(db, scope)).as('activities'),
      eb
        .selectFrom(
          eb
            .selectFrom('follows')
            .select('follows.id')
            .where('follows.follower_id', 'in', scopeIds(db, scope))
            .union(eb.selectFrom('follows').select('follows.id').where('follows.following_id', 'in', scopeIds(db, scope)))
            .as('f'),
        )
        .select(eb.fn.countAll<number>().as('n'))
        .as('follows'),
      eb.selectFrom('tokens').select(eb.fn.countAll<number>().as('n')).where('user_id', 'in', scopeIds(db, scope)).as('tokens'),
    ])
    .executeTakeFirstOrThrow();
  return { users: Number(row.users), activities: Number(row.activities), follows: Number(row.follows), tokens: Number(row.tokens) };
}

/** The activities of the accounts in scope (the progress total): one index-only count. */
async function countActivities(db: Db, scope: Scope): Promise<number> {
  const row = await db
    .selectFrom('activities')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(ownedBy(db, scope))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Deletes what the accounts `ids` still own and then the accounts: four statements whatever their number. */
async function deleteAccounts(trx: Transaction<Database>, ids: readonly number[]): Promise<OwnedCounts> {
  const all = idArray(ids);
  const activities = await trx
    .deleteFrom('activities')
    .where((eb) => eb('actor_id', '=', eb.fn.any(all)))
    .executeTakeFirst();
  const follows = await trx
    .deleteFrom('follows')
    .where((eb) => eb.or([eb('follower_id', '=', eb.fn.any(all)), eb('following_id', '=', eb.fn.any(all))]))
    .executeTakeFirst();
  const tokens = await trx
    .deleteFrom('tokens')
    .where((eb) => eb('user_id', '=', eb.fn.any(all)))
    .executeTakeFirst();
  const users = await trx
    .deleteFrom('users')
    .where((eb) => eb('id', '=', eb.fn.any(all)))
    .executeTakeFirst();
  return {
    users: Number(users.numDeletedRows),
    activities: Number(activities.numDeletedRows),
    follows: Number(follows.numDeletedRows),
    tokens: Number(tokens.numDeletedRows),
  };
}

function add(a: OwnedCounts, b: Partial<OwnedCounts>): OwnedCounts {
  return {
    users: a.users + (b.users ?? 0),
    activities: a.activities + (b.activities ?? 0),
    follows: a.follows + (b.follows ?? 0),
    tokens: a.tokens + (b.tokens ?? 0),
  };
}

const NONE: OwnedCounts = { users: 0, activities: 0, follows: 0, tokens: 0 };

// ---------------------------------------------------------------------------------------------
// rm --purge <user>

export interface PurgeUserPlan {
  readonly id: number;
  readonly nickname: string;
  readonly email: string | null;
  readonly admin: boolean;
  readonly active: boolean;
  readonly deletedAt: Date | null;
  /** What the purge deletes, table by table. */
  readonly counts: OwnedCounts;
}

export interface PurgeUserResult {
  readonly id: number;
  readonly nickname: string;
  /** Rows deleted, table by table, in this run. */
  readonly deleted: OwnedCounts;
  readonly batches: number;
}

/** What `rm --purge <user>` would delete, writing nothing: exit 3 for a missing or remote user, 4 for the last active admin. */
export async function planPurgeUser(ctx: LibContext, ref: string): Promise<PurgeUserPlan> {
  const user = await requireLocalUserIncludingDeleted(ctx.db, ref);
  await assertNotLastAdmin(ctx.db, user, 'delete', false);
  return {
    id: user.id,
    nickname: user.nickname,
    email: user.email,
    admin: user.admin,
    active: user.active,
    deletedAt: user.deleted_at,
    counts: await countOwned(ctx.db, { userId: user.id }),
  };
}

/**
 * Deletes the account and everything it owns, now. Three stages, under the `rm` bulk lock:
 * 1. soft delete (if not yet): the account is deactivated and signed out before anything goes;
 * 2. its activities in bounded batches, each its own transaction with its audit row;
 * 3. one transaction for the rest: remaining activities, follows, tokens, the user row, audit row.
 * A crash or Ctrl-C in stage 2 leaves a soft-deleted account with fewer activities; running
 * `rm --purge` again finishes the job. Stage 3 is all or nothing.
 */
export async function purgeUser(ctx: LibContext, ref: string, settings: PurgeSettings, opts: PurgeRunOptions = {}): Promise<PurgeUserResult> {
  return runBulkJob(ctx, 'rm', { ...settings, signal: opts.signal }, async (job) => {
    const lctx = job.ctx;
    const conn = lctx.db;
    const { id, nickname } = await conn.transaction().execute(async (trx) => {
      const user = await lockUserGuardingLastAdmin(trx, (forUpdate) => requireLocalUserIncludingDeleted(trx, ref, forUpdate), 'delete');
      if (user.deleted_at === null) await softDeleteLocked(trx, lctx, user, settings, { purge: true });
      return user;
    });
    const scope: Scope = { userId: id };
    const total = opts.expectedActivities ?? (await countActivities(conn, scope));
    const batched = await job.deleteActivities(ownedBy(conn, scope), { total, onProgress: (p) => opts.onProgress?.('activities', p) }, (batch, activities) => ({
      verb: 'rm',
      targetUserId: id,
      targetNickname: nickname,
      details: { purge: true, stage: 'activities', batch, activities },
    }));
    const rest = await conn.transaction().execute(async (trx) => {
      const user = await trx.selectFrom('users').select(['id', 'nickname']).where('id', '=', id).forUpdate().executeTakeFirst();
      if (!user) throw new NotFoundError(`No local user ${ref}`);
      const deleted = await deleteAccounts(trx, [id]);
      await writeAudit(trx, lctx, {
        verb: 'rm',
        targetUserId: id,
        targetNickname: user.nickname,
        details: { purge: true, stage: 'account', deleted: add(deleted, { activities: batched.affected }) },
      });
      return deleted;
    });
    return { id, nickname, deleted: add(rest, { activities: batched.affected }), batches: batched.batches };
  });
}

// ---------------------------------------------------------------------------------------------
// purge_deleted [--older-than 90d]

export interface PurgeDeletedPlan {
  /** Accounts soft-deleted before this moment are purged. */
  readonly cutoff: Date;
  readonly counts: OwnedCounts;
  /** The first few nicknames, oldest deletion first, to show before asking. */
  readonly sample: readonly string[];
}

export interface PurgeDeletedResult {
  readonly cutoff: Date;
  readonly deleted: OwnedCounts;
  readonly batches: number;
}

export const PURGE_SAMPLE_SIZE = 10;

/** The moment before which soft-deleted accounts are purged: `olderThanMs` (default: the retention window) before now. */
export function purgeCutoff(now: Date, settings: RetentionSettings, olderThanMs?: number | null): Date {
  return new Date(now.getTime() - (olderThanMs ?? settings.retentionDays * 86400e3));
}

/** What `purge_deleted` would delete, writing nothing. */
export async function planPurgeDeleted(ctx: LibContext, cutoff: Date): Promise<PurgeDeletedPlan> {
  const scope: Scope = { deletedBefore: cutoff };
  const sample = await ctx.db
    .selectFrom('users')
    .select('nickname')
    .where('deleted_at', 'is not', null)
    .where('deleted_at', '<', cutoff)
    .orderBy('deleted_at')
    .orderBy('id')
    .limit(PURGE_SAMPLE_SIZE)
    .execute();
  return { cutoff, counts: await countOwned(ctx.db, scope), sample: sample.map((r) => r.nickname) };
}

/**
 * Hard-deletes every account soft-deleted before `cutoff` (the cron job), under the
 * `purge_deleted` bulk lock: first their activities in bounded batches, then the accounts a batch
 * at a time, each batch one transaction of a fixed number of set-based statements plus one audit
 * row per account. Interrupted or crashed: whole batches are done, a re-run finishes the job.
 */
export async function purgeDeleted(ctx: LibContext, cutoff: Date, settings: BatchSizing, opts: PurgeRunOptions = {}): Promise<PurgeDeletedResult> {
  return runBulkJob(ctx, 'purge_deleted', { ...settings, signal: opts.signal }, async (job) => {
    const lctx = job.ctx;
    const conn = lctx.db;
    const scope: Scope = { deletedBefore: cutoff };
    const before = await countOwned(conn, scope);
    const activities = await job.deleteActivities(
      ownedBy(conn, scope),
      { total: before.activities, onProgress: (p) => opts.onProgress?.('activities', p) },
      (batch, n) => ({
        verb: 'purge_deleted',
        details: { stage: 'activities', cutoff: cutoff.toISOString(), batch, activities: n },
      }),
    );
    let deleted: OwnedCounts = add(NONE, { activities: activities.affected });
    const accounts = await job.batches({ total: before.users, onProgress: (p) => opts.onProgress?.('users', p) }, async (trx, limit) => {
      const users = await scopeIds(trx, scope).select(['users.nickname']).orderBy('users.id').limit(limit).forUpdate().execute();
      if (users.length === 0) return 0;
      const counts = await deleteAccounts(
        trx,
        users.map((u) => u.id),
      );
      // Each account purged its own audit row (`audit list --user` finds it), in one INSERT for the batch.
      await writeAuditForUsers(trx, lctx, 'purge_deleted', users, { stage: 'account', cutoff: cutoff.toISOString() });
      deleted = add(deleted, counts);
      return users.length;
    });
    return { cutoff, deleted, batches: activities.batches + accounts.batches };
  });
}
