import { sql, type Expression, type Kysely, type RawBuilder, type SqlBool, type Transaction } from 'kysely';
import type { Database } from '../db/schema';
import { InterruptedError } from '../errors';
import { plural } from '../text';

export interface BatchProgress {
  /** Rows done so far. */
  readonly done: number;
  /** Rows expected in all, when known up front. */
  readonly total: number | null;
  readonly batches: number;
}

/**
 * How big a bulk verb's batches are: `batchSize` rows to start with; with `maxBatchSize` above it,
 * batches that take under a quarter of the target time grow (see nextBatchSize), up to it.
 */
export interface BatchSizing {
  readonly batchSize: number;
  readonly maxBatchSize?: number;
}

export interface BatchOptions {
  /** Rows per statement; each batch is its own short transaction. */
  readonly batchSize: number;
  /** Aborted (Ctrl-C): stop after the current batch has committed. */
  readonly signal?: AbortSignal;
  readonly total?: number | null;
  readonly onProgress?: (progress: BatchProgress) => void;
  /**
   * How long one batch's transaction may take. A batch slower than this makes the next ones
   * smaller (row locks are held for about this long at most); with `maxBatchSize` above
   * `batchSize`, batches much faster than this grow up to it. Default 1000 ms.
   */
  readonly targetBatchMs?: number;
  /** Upper bound for growing batches; default `batchSize` (never grow). */
  readonly maxBatchSize?: number;
  /** Lower bound for shrinking batches; default min(100, batchSize). */
  readonly minBatchSize?: number;
  /**
   * Work to do before each batch's transaction opens (hashing passwords, rendering mail), so the
   * transaction itself stays short. Gets the batch's size and number.
   */
  readonly beforeBatch?: (limit: number, batchNumber: number) => Promise<void>;
  /**
   * Commit each batch without waiting for its WAL flush (`SET LOCAL synchronous_commit = off`),
   * then wait once, when the job ends (done, interrupted or failed), for all of them to be on
   * disk. For jobs of many small batches that a re-run finishes: each batch stays atomic with its
   * audit rows; only a server crash while the job runs can undo its last few batches (a fraction
   * of a second's worth, whole batches, and the run then fails anyway). Saves one flush wait per
   * batch: 200 of them for a million activities.
   *
   * `'in-step'`: the same, but the step's first statement sets `synchronous_commit` itself (one
   * round trip less per batch; commitModeFor), off for a full batch and the session's own setting
   * for the short one that ends the job, and returns `durable: true` when that last batch wrote
   * something: its synchronous commit then put every earlier one on disk too, so the flush at the
   * end is not needed.
   */
  readonly asyncCommit?: boolean | 'in-step';
  /**
   * With asyncCommit, false when the caller's next statement commits synchronously (rm --purge's
   * last stage), which puts these batches on disk with it: no flush is waited for when the batches
   * end, only when they fail or are interrupted. Default true.
   */
  readonly flushWhenDone?: boolean;
}

/**
 * The next batch size: shrink in proportion when a batch overran the target; when it took under a
 * quarter of it, grow by the factor that would bring the next to about a quarter (at least 2, at
 * most 4). Quadrupling from a first batch that took a hundredth of the target reaches the largest
 * batches two batches sooner than doubling: a million activities in 12 batches instead of 14,
 * 200,000 in 4 instead of 6, each saving a transaction's round trips and commit; the next batch
 * is still predicted at no more than a quarter of the target (or twice the last one's time).
 */
export function nextBatchSize(current: number, elapsedMs: number, target: number, min: number, max: number): number {
  if (elapsedMs > target) return Math.max(min, Math.min(current, Math.floor((current * target * 0.8) / elapsedMs)));
  if (elapsedMs < target / 4 && current < max) {
    const factor = Math.max(2, Math.min(4, Math.floor(target / 4 / Math.max(elapsedMs, 1e-3))));
    return Math.min(max, current * factor);
  }
  return current;
}

/**
 * What one batch did: a count of rows, or, when it may change fewer rows than it looked at (rows
 * gone meanwhile), both: the loop ends on a batch that looked at fewer than its limit.
 */
export type BatchStep = number | { readonly scanned: number; readonly affected: number; readonly durable?: boolean };

export interface BatchResult {
  readonly batches: number;
  readonly affected: number;
}

/**
 * Runs `step` again and again, each time in its own transaction, until a batch touches fewer rows
 * than it was allowed to (`limit`). The size adapts: a batch slower than `targetBatchMs` shrinks
 * the next ones, so no transaction holds its row locks for much more than that. A step is one set-based statement over at most `limit` rows (plus its audit
 * row), so a crash or Ctrl-C leaves whole batches behind and a re-run finishes the job.
 *
 * @example
 * await runInBatches(db, { batchSize: 5000 }, (trx, limit) => confirmSomeUsers(trx, limit));
 */
export async function runInBatches(
  db: Kysely<Database>,
  opts: BatchOptions,
  step: (trx: Transaction<Database>, limit: number, batchNumber: number) => Promise<BatchStep>,
): Promise<BatchResult> {
  if (!opts.asyncCommit) {
    const { batches, affected } = await batchLoop(db, opts, step);
    return { batches, affected };
  }
  let result: BatchResult & { durable: boolean };
  try {
    result = await batchLoop(db, opts, step);
  } catch (error) {
    // Whatever stopped the job, the batches it reports as done are on disk when it exits.
    await flushCommits(db).catch(() => undefined);
    throw error;
  }
  if (!result.durable && opts.flushWhenDone !== false) await flushCommits(db);
  return { batches: result.batches, affected: result.affected };
}

/**
 * Returns once every transaction committed so far is on disk: one statement, its own transaction,
 * that writes a (transactional) logical-decoding message and so commits synchronously, flushing the
 * WAL up to its commit record, past every earlier commit record whichever connection wrote it (so
 * it holds when PgBouncer runs it on another server connection than the batches). A transaction
 * that only took an id (`SELECT pg_current_xact_id()`, what this did before) writes no WAL, and
 * PostgreSQL commits such a transaction asynchronously whatever `synchronous_commit` says: it did
 * not wait for anything. Decoding plugins skip a message whose prefix they do not know.
 */
export async function flushCommits(db: Kysely<Database>): Promise<void> {
  await sql`SELECT pg_logical_emit_message(true, 'userctl', 'flush')`.execute(db);
}

/**
 * The `synchronous_commit` of an 'in-step' batch (see BatchOptions.asyncCommit), for the select
 * list of its first statement, given whether that statement found the batch short: off while
 * batches are full, the session's own setting for the short one that ends the job (off too when
 * `lastSynchronous` is false: see BatchOptions.flushWhenDone).
 */
export function commitModeFor(short: Expression<SqlBool>, lastSynchronous = true): RawBuilder<string> {
  if (!lastSynchronous) return sql<string>`set_config('synchronous_commit', 'off', true)`;
  return sql<string>`set_config('synchronous_commit', CASE WHEN ${short} THEN current_setting('synchronous_commit') ELSE 'off' END, true)`;
}

async function batchLoop(
  db: Kysely<Database>,
  opts: BatchOptions,
  step: (trx: Transaction<Database>, limit: number, batchNumber: number) => Promise<BatchStep>,
): Promise<BatchResult & { durable: boolean }> {
  let batches = 0;
  let affected = 0;
  const total = opts.total ?? null;
  const target = opts.targetBatchMs ?? 1000;
  const max = Math.max(opts.batchSize, opts.maxBatchSize ?? opts.batchSize);
  const min = Math.max(1, Math.min(opts.minBatchSize ?? 100, opts.batchSize));
  let limit = opts.batchSize;
  for (;;) {
    // Let signal handlers run: on PGlite a query never leaves the event loop's microtasks, so
    // without this a Ctrl-C would only be seen once the whole job was done.
    await new Promise((resolve) => setImmediate(resolve));
    if (opts.signal?.aborted) {
      throw new InterruptedError(
        `interrupted after ${plural(affected, 'row')} in ${plural(batches, 'batch', 'batches')}; every finished batch is saved, re-run to finish the rest`,
      );
    }
    const number = batches + 1;
    if (opts.beforeBatch) await opts.beforeBatch(limit, number);
    const started = performance.now();
    const done = await db.transaction().execute(async (trx) => {
      if (opts.asyncCommit === true) await sql`SET LOCAL synchronous_commit = off`.execute(trx);
      return step(trx, limit, number);
    });
    const elapsed = performance.now() - started;
    const { scanned, affected: n, durable = false } = typeof done === 'number' ? { scanned: done, affected: done } : done;
    batches += 1;
    affected += n;
    opts.onProgress?.({ done: affected, total, batches });
    if (scanned < limit) return { batches, affected, durable };
    limit = nextBatchSize(limit, elapsed, target, min, max);
  }
}
