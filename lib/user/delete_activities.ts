import type { LibContext } from '../lib-context';
import { writeAudit } from '../audit/audit';
import { runInBatches, withBulkLock, type BatchProgress, type BatchSizing } from '../bulk/batches';
import { requireLocalUser } from './find';
import { activityDeleter, yieldToEventLoop } from '../bulk/sql';

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
  return withBulkLock(ctx.db, 'delete_activities', async (conn) => {
    const lctx: LibContext = { ...ctx, db: conn };
    const deleteNext = activityDeleter((eb) => eb('activities.actor_id', '=', plan.id));
    const result = await runInBatches(conn, { batchSize: settings.batchSize, maxBatchSize: settings.maxBatchSize, signal: opts.signal, total: plan.activities, onProgress: opts.onProgress, asyncCommit: true }, async (trx, limit, batch) => {
      await yieldToEventLoop();
      const n = await deleteNext(trx, limit);
      if (n.affected > 0) await writeAudit(trx, lctx, { verb: 'delete_activities', targetUserId: plan.id, targetNickname: plan.nickname, details: { batch, activities: n.affected } });
      return n;
    });
    return { id: plan.id, nickname: plan.nickname, deleted: result.affected, batches: result.batches };
  });
}
