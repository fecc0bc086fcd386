import { sql, type RawBuilder } from 'kysely';

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
