import { sql, type Expression, type ExpressionBuilder, type RawBuilder, type SqlBool, type Transaction } from 'kysely';
import type { Database } from '../schema';

/**
 * A batch's ids as ONE array parameter (`= any($1::bigint[])`), not one parameter per id: a
 * batch of any size stays under PostgreSQL's 65535-parameter limit and the statement text is the
 * same for every batch.
 */
export function idArray(ids: readonly number[]): RawBuilder<number[]> {
  return sql<number[]>`${[...ids]}::bigint[]`;
}

/**
 * Lets the event loop run once. On PGlite every query resolves through promise callbacks only,
 * so a loop of batches never gives Node a turn to run its SIGINT handler: Ctrl-C would be
 * ignored until the whole job ended. Called at the start of each batch, so the abort is seen and
 * the job stops after the batch in progress.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Deletes the first `limit` activities, in id order, of the actors `actor` picks: one range
 * DELETE on the (actor_id, id) index up to the `limit`-th id (`id <= (SELECT max(id) FROM (first
 * `limit` ids))`, both read from the same snapshot, so it is exactly those rows). The older
 * `id IN (SELECT id ... ORDER BY id LIMIT n)` was planned as a hash semi join over a sequential
 * scan of the whole table, once per batch: 200 ms a batch with a million activities.
 */
export async function deleteFirstActivities(
  trx: Transaction<Database>,
  actor: (eb: ExpressionBuilder<Database, 'activities'>) => Expression<SqlBool>,
  limit: number,
): Promise<number> {
  const result = await trx
    .deleteFrom('activities')
    .where(actor)
    .where('activities.id', '<=', (eb) =>
      eb
        .selectFrom((inner) => inner.selectFrom('activities').select('activities.id').where(actor).orderBy('activities.id').limit(limit).as('first'))
        .select((s) => s.fn.max('first.id').as('last')),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
