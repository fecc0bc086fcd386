import type { LibContext } from '../lib-context';
import type { BatchProgress, BatchSizing } from '../bulk/batches';
import { runBulkJob } from '../bulk/job';
import { NotFoundError } from '../errors';
import { findUserQuery, refText } from './find';

export interface DeleteActivitiesPlan {
  readonly id: number;
  readonly nickname: string;
  /** The user's activities (posts and interactions) now; null when not counted (`count: false`). */
  readonly activities: number | null;
}

export interface DeleteActivitiesResult {
  readonly id: number;
  readonly nickname: string;
  readonly deleted: number;
  readonly batches: number;
}

/**
 * What `delete_activities <user>` would delete: a local user (`No local user X`, exit 3) and a
 * count, both in one statement. `count: false` when nobody will see the count (no question, no
 * progress): the count is an index scan of every activity of the user, ~30 ms per 200,000.
 */
export async function planDeleteActivities(ctx: LibContext, ref: string, opts: { readonly count?: boolean } = {}): Promise<DeleteActivitiesPlan> {
  const query = findUserQuery(ctx.db, ref, { localOnly: true });
  if (!query) throw new NotFoundError(`No local user ${refText(ref)}`);
  if (opts.count === false) {
    const user = await query.executeTakeFirst();
    if (!user) throw new NotFoundError(`No local user ${refText(ref)}`);
    return { id: user.id, nickname: user.nickname, activities: null };
  }
  const user = await query
    .select((eb) => eb.selectFrom('activities').select(eb.fn.countAll<number>().as('n')).whereRef('activities.actor_id', '=', 'users.id').as('activity_count'))
    .executeTakeFirst();
  if (!user) throw new NotFoundError(`No local user ${refText(ref)}`);
  return { id: user.id, nickname: user.nickname, activities: Number(user.activity_count) };
}

/**
 * Deletes every activity of the user, `batchSize` rows per statement, each batch its own
 * transaction with its audit row, under the `delete_activities` bulk lock. Activities that arrive
 * meanwhile go too (the loop ends on a short batch). Ctrl-C: exit 130 after the current batch;
 * a re-run finishes the job.
 */
export async function deleteActivities(
  ctx: LibContext,
  plan: Pick<DeleteActivitiesPlan, 'id' | 'nickname' | 'activities'>,
  settings: BatchSizing,
  opts: { readonly signal?: AbortSignal; readonly onProgress?: (p: BatchProgress) => void } = {},
): Promise<DeleteActivitiesResult> {
  return runBulkJob(ctx, 'delete_activities', { ...settings, signal: opts.signal }, async (job) => {
    const result = await job.deleteActivities(
      (eb) => eb('activities.actor_id', '=', plan.id),
      { total: plan.activities, onProgress: opts.onProgress },
      (batch, activities) => ({
        verb: 'delete_activities',
        targetUserId: plan.id,
        targetNickname: plan.nickname,
        details: { batch, activities },
      }),
    );
    return { id: plan.id, nickname: plan.nickname, deleted: result.affected, batches: result.batches };
  });
}
