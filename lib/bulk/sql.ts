import { sql, type Expression, type ExpressionBuilder, type RawBuilder, type SqlBool, type Transaction } from 'kysely';
import type { Database } from '../db/schema';
import { commitModeFor } from './batches';

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
 * Deletes the activities of the actors `actor` picks in id order, at most `limit` per call, each
 * call going on after the last id the previous one reached. Two statements on the
 * (actor_id, id) index: the batch's last id, then one range DELETE up to it. The last id is the
 * `limit`-th next one (`OFFSET limit - 1`: a bare walk of the index, without the `max` and `count`
 * over the `limit` next ids this used before: ~12 against ~25 ms per 100,000 alone in psql, ~15%
 * less bound time over a million activities in the verb's run), and only when fewer are left, the
 * largest of those: `max(id)` past the last batch, for one actor one step down the index from its
 * end (for purge_deleted's many, a read of the few left). In the
 * same statement, and so the same snapshot, as the walk that found fewer than `limit` left, it is
 * the largest of those few. (It was the `max` over the `limit` next ids, a second walk: the short
 * last batch of 95,000 of 200,000 activities took 90-120 ms to bound, now 18-20, on a loaded
 * host on 2026-11-28.) Starting after
 * the previous batch matters: from the first id, each batch's index scan walked over every entry
 * the earlier batches had deleted (not yet vacuumed), so a million rows cost about 40% more than
 * one DELETE. The older `id IN (SELECT id ... ORDER BY id LIMIT n)` was worse still: a hash semi
 * join over the whole table, once per batch. New activities get higher ids and go too; one that a
 * transaction still open now commits later with an id below the batch's is left for a re-run
 * (rm --purge's last stage deletes what is left anyway).
 */
export function activityDeleter(actor: (eb: ExpressionBuilder<Database, 'activities'>) => Expression<SqlBool>, lastSynchronous = true) {
  let after = 0;
  return async (trx: Transaction<Database>, limit: number): Promise<{ scanned: number; affected: number; durable: boolean }> => {
    const next = () => trx.selectFrom('activities').select('activities.id').where(actor).where('activities.id', '>', after).orderBy('activities.id');
    const full = next()
      .offset(limit - 1)
      .limit(1);
    const rest = trx
      .selectFrom('activities')
      .select((eb) => eb.fn.max('activities.id').as('last'))
      .where(actor)
      .where('activities.id', '>', after);
    // COALESCE runs the second subquery only when the first found no full batch. MATERIALIZED:
    // a plain subquery in FROM is pulled up, and the walk ran once for every use of `b.full`.
    // The statement also sets the batch's commit mode (BatchOptions.asyncCommit 'in-step').
    const { rows } = await sql<{ full: string | null; last: string | null }>`
      WITH b AS MATERIALIZED (SELECT ${full} AS full)
      SELECT b.full, coalesce(b.full, ${rest}) AS last, ${commitModeFor(sql<SqlBool>`b.full IS NULL`, lastSynchronous)} AS commit
      FROM b`.execute(trx);
    const bound = rows[0];
    if (!bound || bound.last === null) return { scanned: 0, affected: 0, durable: false };
    const last = Number(bound.last);
    const result = await trx.deleteFrom('activities').where(actor).where('activities.id', '>', after).where('activities.id', '<=', last).executeTakeFirst();
    after = last;
    const affected = Number(result.numDeletedRows);
    // A full batch goes on; a short one ends the job (unless as many arrived meanwhile).
    const scanned = bound.full !== null ? limit : Math.min(affected, limit - 1);
    // A short batch commits synchronously; when it deleted something that commit flushes the WAL
    // past every earlier batch's commit, and the stage needs no flush of its own.
    return { scanned, affected, durable: lastSynchronous && scanned < limit && affected > 0 };
  };
}
