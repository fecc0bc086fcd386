import type { LibContext } from '../lib-context';
import type { BatchProgress, BatchSizing } from '../bulk/batches';
import { runBulkJob } from '../bulk/job';
import { requireLocalUser } from './find';

export interface DeleteActivitiesPlan {
  readonly id: number;
  readonly nickname: string;
  /** The user's activities (posts and interactions) now. */
  readonly activities: number;
}

export interface DeleteActivitiesResult {
  readonly id: number;
  readonly nickname: string;
  readonly deleted: number;
  readonly batches: number;
}

/** What `delete_activities <user>` would delete: a local user (`No local user X`, exit 3) and a count. */
export async function planDeleteActivities(ctx: LibContext, ref: string): Promise<DeleteActivitiesPlan> {
  const user = await requireLocalUser(ctx.db, ref);
  const row = await ctx.db
    .selectFrom('activities')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('actor_id', '=', user.id)
    .executeTakeFirstOrThrow();
  return { id: user.id, nickname: user.nickname, activities: Number(row.n) };
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
