import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema';
import { ConflictError, InterruptedError } from './errors';

export interface BatchProgress {
  /** Rows done so far. */
  readonly done: number;
  /** Rows expected in all, when known up front. */
  readonly total: number | null;
  readonly batches: number;
}

export interface BatchOptions {
  /** Rows per statement; each batch is its own short transaction. */
  readonly batchSize: number;
  /** Aborted (Ctrl-C): stop after the current batch has committed. */
  readonly signal?: AbortSignal;
  readonly total?: number | null;
  readonly onProgress?: (progress: BatchProgress) => void;
}

export interface BatchResult {
  readonly batches: number;
  readonly affected: number;
}

/**
 * Runs `step` again and again, each time in its own transaction, until a batch touches fewer rows
 * than the batch size. A step is one set-based statement over at most `limit` rows (plus its audit
 * row), so a crash or Ctrl-C leaves whole batches behind and a re-run finishes the job.
 *
 * @example
 * await runInBatches(db, { batchSize: 5000 }, (trx, limit) => confirmSomeUsers(trx, limit));
 */
export async function runInBatches(
  db: Kysely<Database>,
  opts: BatchOptions,
  step: (trx: Transaction<Database>, limit: number, batchNumber: number) => Promise<number>,
): Promise<BatchResult> {
  let batches = 0;
  let affected = 0;
  const total = opts.total ?? null;
  for (;;) {
    if (opts.signal?.aborted) {
      throw new InterruptedError(`interrupted after ${affected} row(s) in ${batches} batch(es); every finished batch is saved, re-run to finish the rest`);
    }
    const n = await db.transaction().execute((trx) => step(trx, opts.batchSize, batches + 1));
    batches += 1;
    affected += n;
    opts.onProgress?.({ done: affected, total, batches });
    if (n < opts.batchSize) return { batches, affected };
  }
}

/**
 * Runs `fn` holding a PostgreSQL advisory lock named after the job, so only one run of a bulk verb
 * goes at a time, across hosts. `fn` gets a database bound to the lock's connection: run the
 * batches on it (on PGlite, with its single connection, anything else would wait forever).
 */
export async function withBulkLock<T>(db: Kysely<Database>, job: string, fn: (conn: Kysely<Database>) => Promise<T>): Promise<T> {
  const key = `userctl:${job}`;
  return db.connection().execute(async (conn) => {
    const { rows } = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(hashtext(${key})) AS ok`.execute(conn);
    if (!rows[0]?.ok) throw new ConflictError(`another ${job} is already running`);
    try {
      return await fn(conn);
    } finally {
      await sql`SELECT pg_advisory_unlock(hashtext(${key}))`.execute(conn).catch(() => undefined);
    }
  });
}
