import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Database, Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { auditForUsers } from '../audit/audit';
import type { BatchProgress, BatchSizing } from '../bulk/batches';
import { runBulkJob } from '../bulk/job';
import { SESSION_KINDS } from '../tokens/store';
import { checkInstance } from '../validate';
import { idArray } from '../bulk/sql';

export interface InstancePlan {
  /** The host, lower-cased, without a leading `@`. */
  readonly instance: string;
  /** Active remote users of exactly that host. */
  readonly users: number;
  /** Follows between them and local users (both directions) that go with them. */
  readonly follows: number;
  /** The first few nicknames, to show before asking. */
  readonly sample: readonly string[];
}

export interface InstanceResult {
  readonly instance: string;
  readonly deactivated: number;
  readonly unfollowed: number;
  readonly revokedSessions: number;
  readonly batches: number;
}

export const INSTANCE_SAMPLE_SIZE = 10;

/**
 * Active remote users of exactly `instance`: the generated, indexed `instance` column (the
 * lower-cased host of the nickname) compared for equality. Pleroma's `ILIKE '%@host%'` would also
 * take `@host.community`; this does not.
 */
function targets(db: Db, instance: string) {
  return db
    .selectFrom('users')
    .where('users.instance', '=', instance)
    .where('users.local', '=', false)
    .where('users.active', '=', true)
    .where('users.deleted_at', 'is', null);
}

type FollowEnd = 'follows.follower_id' | 'follows.following_id';
const OTHER_END: Record<FollowEnd, FollowEnd> = { 'follows.follower_id': 'follows.following_id', 'follows.following_id': 'follows.follower_id' };

/** The user at `column`'s end of the follow is local: one primary-key probe per follow. */
function localAt(eb: ExpressionBuilder<Database, 'follows'>, column: FollowEnd): Expression<SqlBool> {
  return eb.exists(eb.selectFrom('users as l').select('l.id').whereRef('l.id', '=', column).where('l.local', '=', true));
}

/**
 * The follows between the users picked by `ids` and local users, both directions. The local end
 * is an EXISTS probe, never `x IN (SELECT id FROM users WHERE local)`: inside an OR that cannot
 * become a join and ran as a subplan over every local user for each follow (hours on a big
 * instance). With `ids` an array, the two halves are index scans (follows' unique index on
 * (follower_id, following_id) and its index on following_id) combined by a bitmap OR.
 */
function followsWithLocals(ids: (eb: ExpressionBuilder<Database, 'follows'>, column: FollowEnd) => Expression<SqlBool>) {
  return (eb: ExpressionBuilder<Database, 'follows'>) =>
    eb.or([
      eb.and([ids(eb, 'follows.follower_id'), localAt(eb, 'follows.following_id')]),
      eb.and([ids(eb, 'follows.following_id'), localAt(eb, 'follows.follower_id')]),
    ]);
}

/**
 * How many follows the instance's users have with local users, counted as two index-friendly
 * halves (its users as followers, then as followed) joined by UNION ALL. The halves never meet:
 * a follow in both would have a remote user of the instance at a local end.
 */
function countFollowsWithLocals(db: Db, instance: string) {
  const half = (mine: FollowEnd) =>
    db
      .selectFrom('follows')
      .select('follows.id')
      .where(mine, 'in', targets(db, instance).select('users.id'))
      .where((eb) => localAt(eb, OTHER_END[mine]));
  return db.selectFrom(half('follows.follower_id').unionAll(half('follows.following_id')).as('f')).select((eb) => eb.fn.countAll<number>().as('n'));
}

/**
 * What `deactivate_all_from_instance <instance>` would do, writing nothing (exit 2 for a malformed
 * host): the users, their follows with local users and the first few nicknames, in one statement.
 */
export async function planDeactivateInstance(db: Kysely<Database>, rawInstance: string): Promise<InstancePlan> {
  const instance = checkInstance(rawInstance);
  const row = await db
    .selectNoFrom((eb) => [
      targets(db, instance).select(eb.fn.countAll<number>().as('n')).as('users'),
      countFollowsWithLocals(db, instance).as('follows'),
      eb
        .selectFrom(targets(db, instance).select(['users.id', 'users.nickname']).orderBy('users.id').limit(INSTANCE_SAMPLE_SIZE).as('s'))
        .select(sql<string[]>`coalesce(array_agg(s.nickname ORDER BY s.id), '{}')`.as('names'))
        .as('sample'),
    ])
    .executeTakeFirstOrThrow();
  return { instance, users: Number(row.users), follows: Number(row.follows), sample: row.sample ?? [] };
}

/**
 * Deactivates every active user of the instance, under the `deactivate_all_from_instance` bulk
 * lock, `batchSize` users per batch. A batch is one transaction of three statements whatever its
 * size: pick and lock the users, remove their follows with local users, then one statement that
 * revokes their sessions, deactivates them and writes an audit row per user. Ctrl-C: exit 130 after the current
 * batch; a re-run finishes the job (deactivated users are no longer picked).
 */
export async function deactivateInstance(
  ctx: LibContext,
  plan: Pick<InstancePlan, 'instance' | 'users'>,
  settings: BatchSizing,
  opts: { readonly signal?: AbortSignal; readonly onProgress?: (p: BatchProgress) => void } = {},
): Promise<InstanceResult> {
  const { instance } = plan;
  return runBulkJob(ctx, 'deactivate_all_from_instance', { ...settings, signal: opts.signal }, async (job) => {
    let unfollowed = 0;
    let revokedSessions = 0;
    const result = await job.batches({ total: plan.users, onProgress: opts.onProgress }, async (trx, limit, batch) => {
      const users = await targets(trx, instance).select(['users.id', 'users.nickname']).orderBy('users.id').limit(limit).forUpdate().execute();
      if (users.length === 0) return 0;
      const ids = users.map((u) => u.id);
      const inBatch = idArray(ids);
      const now = ctx.now();
      const follows = await trx
        .deleteFrom('follows')
        .where(followsWithLocals((eb, column) => eb(column, '=', eb.fn.any(inBatch))))
        .executeTakeFirst();
      // The sessions, the users and their audit rows: one statement.
      const { rows } = await sql<{ revoked: number }>`
        WITH revoked AS (
          UPDATE tokens SET revoked_at = ${now}
          WHERE user_id = ANY(${inBatch}) AND kind = ANY(${[...SESSION_KINDS]}::text[]) AND revoked_at IS NULL AND used_at IS NULL
          RETURNING 1
        ), deactivated AS (
          UPDATE users SET active = false, updated_at = ${now} WHERE id = ANY(${inBatch})
        ), audit AS (
          ${auditForUsers(ctx, 'deactivate_all_from_instance', users, { instance, batch, active: false })}
        )
        SELECT count(*)::int AS revoked FROM revoked`.execute(trx);
      unfollowed += Number(follows.numDeletedRows);
      revokedSessions += Number(rows[0].revoked);
      return users.length;
    });
    return { instance, deactivated: result.affected, unfollowed, revokedSessions, batches: result.batches };
  });
}
