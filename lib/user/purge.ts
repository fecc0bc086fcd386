import { sql, type ExpressionBuilder, type Transaction } from 'kysely';
import type { Database, Db, UserRow } from '../db/schema';
import type { LibContext } from '../lib-context';
import { writeAuditForUsers } from '../audit/audit';
import { NotFoundError } from '../errors';
import { flushCommits, type BatchProgress, type BatchSizing } from '../bulk/batches';
import { runBulkJob } from '../bulk/job';
import { requireLocalUserIncludingDeleted, softDeleteLocked, type RetentionSettings } from './rm';
import { findUserQuery, refText } from './find';
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
   * them again: an index scan of its own, ~70 ms per million. null: no total wanted (no progress
   * is shown), so none is counted.
   */
  readonly expectedActivities?: number | null;
  /** purge_deleted: the accounts the plan counted just before; with expectedActivities, nothing is counted again. */
  readonly expectedUsers?: number | null;
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
  return ownedOf(await db.selectNoFrom((eb) => ownedColumns(db, eb, scope)).executeTakeFirstOrThrow());
}

/** countOwned's four counts as columns of a statement, to go with more columns of its own. */
function ownedColumns(db: Db, eb: ExpressionBuilder<Database, never>, scope: Scope) {
  return [
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
  ];
}

function ownedOf(row: { users: unknown; activities: unknown; follows: unknown; tokens: unknown }): OwnedCounts {
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
  /** What the purge deletes, table by table; null when not counted (`count: false`). */
  readonly counts: OwnedCounts | null;
}

export interface PurgeUserResult {
  readonly id: number;
  readonly nickname: string;
  /** Rows deleted, table by table, in this run. */
  readonly deleted: OwnedCounts;
  readonly batches: number;
}

/**
 * What `rm --purge <user>` would delete, writing nothing: exit 3 for a missing or remote user, 4 for
 * the last active admin. The user and its counts are one statement. `count: false` when nobody will
 * see the counts (no question, no progress): `counts` is then null, and the count of its
 * activities (an index scan of every one) is not made at all.
 */
export async function planPurgeUser(ctx: LibContext, ref: string, opts: { readonly count?: boolean } = {}): Promise<PurgeUserPlan> {
  const query = findUserQuery(ctx.db, ref, { localOnly: true, includeDeleted: true });
  if (!query) throw new NotFoundError(`No local user ${refText(ref)}`);
  let user: UserRow | undefined;
  let counts: OwnedCounts | null = null;
  if (opts.count === false) {
    user = await query.executeTakeFirst();
  } else {
    const row = await query.select(ownedBy1).executeTakeFirst();
    user = row;
    if (row) counts = { users: 1, activities: Number(row.owned_activities), follows: Number(row.owned_follows), tokens: Number(row.owned_tokens) };
  }
  if (!user) throw new NotFoundError(`No local user ${refText(ref)}`);
  await assertNotLastAdmin(ctx.db, user, 'delete', false);
  return { id: user.id, nickname: user.nickname, email: user.email, admin: user.admin, active: user.active, deletedAt: user.deleted_at, counts };
}

/**
 * What the user of the row owns, as columns beside it (countOwned's statements for one account,
 * correlated with `users.id`); `users` is the row itself.
 */
function ownedBy1(eb: ExpressionBuilder<Database, 'users'>) {
  return [
    eb.selectFrom('activities').select(eb.fn.countAll<number>().as('n')).whereRef('activities.actor_id', '=', 'users.id').as('owned_activities'),
    eb
      .selectFrom(
        eb
          .selectFrom('follows')
          .select('follows.id')
          .whereRef('follows.follower_id', '=', 'users.id')
          .union(eb.selectFrom('follows').select('follows.id').whereRef('follows.following_id', '=', 'users.id'))
          .as('f'),
      )
      .select(eb.fn.countAll<number>().as('n'))
      .as('owned_follows'),
    eb.selectFrom('tokens').select(eb.fn.countAll<number>().as('n')).whereRef('tokens.user_id', '=', 'users.id').as('owned_tokens'),
  ];
}

/**
 * Deletes the account and everything it owns, now. Three stages, under the `rm` bulk lock:
 * 1. soft delete (if not yet): the account is deactivated and signed out before anything goes;
 * 2. its activities in bounded batches, each its own transaction with its audit row;
 * 3. one statement (so one transaction) for the rest: remaining activities, follows, tokens, the
 *    user row, audit row.
 * A crash or Ctrl-C in stage 2 leaves a soft-deleted account with fewer activities; running
 * `rm --purge` again finishes the job. Stage 3 is all or nothing.
 */
export async function purgeUser(ctx: LibContext, ref: string, settings: PurgeSettings, opts: PurgeRunOptions = {}): Promise<PurgeUserResult> {
  return runBulkJob(ctx, 'rm', { ...settings, signal: opts.signal }, async (job) => {
    const lctx = job.ctx;
    const conn = lctx.db;
    const { id, nickname } = await conn.transaction().execute(async (trx) => {
      const user = await lockUserGuardingLastAdmin(trx, (forUpdate) => requireLocalUserIncludingDeleted(trx, ref, forUpdate), 'delete');
      if (user.deleted_at === null) await softDeleteLocked(trx, lctx, user, settings, { purge: true }, true);
      return user;
    });
    const scope: Scope = { userId: id };
    const total = opts.expectedActivities === undefined ? await countActivities(conn, scope) : opts.expectedActivities;
    // The account's last statement commits synchronously, putting the batches on disk with it.
    const stage = { total, onProgress: (p: BatchProgress) => opts.onProgress?.('activities', p), thenSynchronous: true };
    const batched = await job.deleteActivities(ownedBy(conn, scope), stage, (batch, activities) => ({
      verb: 'rm',
      targetUserId: id,
      targetNickname: nickname,
      details: { purge: true, stage: 'activities', batch, activities },
    }));
    let rest: OwnedCounts | null;
    try {
      rest = await deleteAccount(lctx, id, batched.affected);
      if (!rest) throw new NotFoundError(`No local user ${refText(ref)}`);
    } catch (error) {
      // It failed or found no account: the batches (and the soft delete) go on disk all the same.
      await flushCommits(conn).catch(() => undefined);
      throw error;
    }
    return { id, nickname, deleted: add(rest, { activities: batched.affected }), batches: batched.batches };
  });
}

/**
 * The last stage of a purge, one statement and so one transaction: what the account still owns,
 * the account, and the audit row with the totals (`batched` activities went before). Null, with
 * nothing written, when the account is gone already. The deletes of what it owns come first in
 * the statement and are counted; the account's own DELETE then cascades to nothing.
 */
async function deleteAccount(ctx: LibContext, id: number, batched: number): Promise<OwnedCounts | null> {
  const { rows } = await sql<{ nickname: string; users: number; activities: number; follows: number; tokens: number }>`
    WITH gone_activities AS (
      DELETE FROM activities WHERE actor_id = ${id} RETURNING 1
    ), gone_follows AS (
      DELETE FROM follows WHERE follower_id = ${id} OR following_id = ${id} RETURNING 1
    ), gone_tokens AS (
      DELETE FROM tokens WHERE user_id = ${id} RETURNING 1
    ), account AS (
      DELETE FROM users WHERE id = ${id} RETURNING nickname
    ), counted AS (
      SELECT account.nickname, 1 AS users, (SELECT count(*)::int FROM gone_activities) AS activities,
        (SELECT count(*)::int FROM gone_follows) AS follows, (SELECT count(*)::int FROM gone_tokens) AS tokens
      FROM account
    ), audit AS (
      INSERT INTO audit_log (at, actor, verb, target_user_id, target_nickname, reason, details)
      SELECT ${ctx.now()}::timestamptz, ${ctx.actor}::text, 'rm', ${id}::bigint, counted.nickname, ${ctx.reason ?? null}::text,
        jsonb_build_object('purge', true, 'stage', 'account', 'deleted',
          jsonb_build_object('users', counted.users, 'activities', counted.activities + ${batched}::int, 'follows', counted.follows, 'tokens', counted.tokens))
      FROM counted
    )
    SELECT * FROM counted`.execute(ctx.db);
  const row = rows[0];
  if (!row) return null;
  return { users: Number(row.users), activities: Number(row.activities), follows: Number(row.follows), tokens: Number(row.tokens) };
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

/** What `purge_deleted` would delete, writing nothing: the counts and the first few nicknames, in one statement. */
export async function planPurgeDeleted(ctx: LibContext, cutoff: Date): Promise<PurgeDeletedPlan> {
  const scope: Scope = { deletedBefore: cutoff };
  const db = ctx.db;
  const row = await db
    .selectNoFrom((eb) => [
      ...ownedColumns(db, eb, scope),
      eb
        .selectFrom(
          db
            .selectFrom('users')
            .select(['id', 'nickname', 'deleted_at'])
            .where('deleted_at', 'is not', null)
            .where('deleted_at', '<', cutoff)
            .orderBy('deleted_at')
            .orderBy('id')
            .limit(PURGE_SAMPLE_SIZE)
            .as('s'),
        )
        .select(sql<string[]>`coalesce(array_agg(s.nickname ORDER BY s.deleted_at, s.id), '{}')`.as('names'))
        .as('sample'),
    ])
    .executeTakeFirstOrThrow();
  return { cutoff, counts: ownedOf(row), sample: row.sample ?? [] };
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
    const before =
      opts.expectedActivities !== undefined && opts.expectedUsers !== undefined
        ? { activities: opts.expectedActivities, users: opts.expectedUsers }
        : await countOwned(conn, scope);
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
