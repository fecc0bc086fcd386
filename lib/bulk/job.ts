// lib/bulk owns set-based bulk work: the job helper every bulk verb runs through (this file),
// batch sizing and the batch loop (batches.ts), the single-run lock (lock.ts), and SQL shared by
// the batches (sql.ts).
import type { Expression, ExpressionBuilder, SqlBool, Transaction } from 'kysely';
import type { Database } from '../db/schema';
import type { LibContext } from '../lib-context';
import { writeAudit, type AuditEntry } from '../audit/audit';
import { runInBatches, type BatchOptions, type BatchProgress, type BatchResult, type BatchSizing, type BatchStep } from './batches';
import { withBulkLock, type HeldJobLock } from './lock';
import { activityDeleter, yieldToEventLoop } from './sql';

/**
 * The bulk-job helper every bulk verb runs through (confirm_all, unconfirm_all, purge_deleted,
 * delete_activities, deactivate_all_from_instance, rm --purge, import): the job's single-run lock
 * held for the whole run (lock.ts), checked with each batch, and each stage's batches run with
 * the run's sizing and abort signal (Ctrl-C stops after the batch in progress). What a batch
 * does, and the audit rows it writes in its own transaction, stay with the verb's domain function.
 */

/** How a run of a bulk job goes: its batch sizing (`--batch-size`, CTL_BATCH_SIZE) and Ctrl-C. */
export interface BulkRun extends BatchSizing {
  /** Aborted (Ctrl-C): stop after the current batch has committed (exit 130). */
  readonly signal?: AbortSignal;
}

/** One stage of a job: a loop of batches until a short one. */
export interface BulkStage {
  /** Rows the stage expects (the progress total), when known up front. */
  readonly total: number | null;
  readonly onProgress?: (progress: BatchProgress) => void;
  /** See BatchOptions.asyncCommit: for stages of many small batches that a re-run finishes. */
  readonly asyncCommit?: BatchOptions['asyncCommit'];
  /** Work before each batch's transaction opens (hashing passwords), so the transaction stays short. */
  readonly beforeBatch?: BatchOptions['beforeBatch'];
  /** See BatchOptions.flushWhenDone. */
  readonly flushWhenDone?: boolean;
}

export type BatchStepFn = (trx: Transaction<Database>, limit: number, batchNumber: number) => Promise<BatchStep>;

export interface BulkJob {
  /** The caller's context: every query of the job goes through its `db`. */
  readonly ctx: LibContext;
  /** Runs `step` in batches, each its own transaction, sized and stopped as the run says. */
  batches(stage: BulkStage, step: BatchStepFn): Promise<BatchResult>;
  /**
   * Deletes the activities `actor` picks, in batches (asynchronous commit but for the last batch,
   * so every batch is on disk when the stage ends), with the audit row `audit(batch, deleted)` in
   * each batch that deleted any.
   */
  deleteActivities(
    actor: (eb: ExpressionBuilder<Database, 'activities'>) => Expression<SqlBool>,
    stage: Omit<BulkStage, 'asyncCommit'> & {
      /** The caller commits synchronously right after the stage: its last batch need not (BatchOptions.flushWhenDone). */
      readonly thenSynchronous?: boolean;
    },
    audit: (batch: number, deleted: number) => AuditEntry,
  ): Promise<BatchResult>;
}

/**
 * The stages of a job on `ctx.db`, without taking the lock: for runBulkJob, which holds it (and
 * passes it, to be checked with each batch), and for tests of one stage's statements.
 */
export function bulkJobOn(ctx: LibContext, run: BulkRun, lock?: HeldJobLock): BulkJob {
  const batches = (stage: BulkStage, step: BatchStepFn) =>
    runInBatches(
      ctx.db,
      {
        batchSize: run.batchSize,
        maxBatchSize: run.maxBatchSize,
        signal: run.signal,
        total: stage.total,
        onProgress: stage.onProgress,
        asyncCommit: stage.asyncCommit,
        flushWhenDone: stage.flushWhenDone,
        beforeBatch: stage.beforeBatch,
      },
      async (trx, limit, batch) => {
        await yieldToEventLoop();
        if (!lock) return step(trx, limit, batch);
        // The lock is checked on its own connection while the batch runs on this one, instead of
        // one round trip before it: the batch commits only once the check has come back, so a
        // job whose lock went with its connection still writes nothing more (the batch rolls back).
        const [checked, done] = await Promise.allSettled([lock.check(), step(trx, limit, batch)]);
        if (checked.status === 'rejected') throw checked.reason;
        if (done.status === 'rejected') throw done.reason;
        return done.value;
      },
    );
  return {
    ctx,
    batches,
    deleteActivities(actor, { thenSynchronous = false, ...stage }, audit) {
      const deleteNext = activityDeleter(actor, !thenSynchronous);
      return batches({ ...stage, asyncCommit: 'in-step', flushWhenDone: !thenSynchronous }, async (trx, limit, batch) => {
        const n = await deleteNext(trx, limit);
        if (n.affected > 0) await writeAudit(trx, ctx, audit(batch, n.affected));
        return n;
      });
    },
  };
}

/**
 * Runs `body` holding the single-run lock named after the job (a second run at the same time is
 * exit 4, `another <job> is already running`), checking it with each batch.
 */
export function runBulkJob<T>(ctx: LibContext, job: string, run: BulkRun, body: (job: BulkJob) => Promise<T>): Promise<T> {
  return withBulkLock(ctx.db, job, (db, lock) => body(bulkJobOn({ ...ctx, db }, run, lock)));
}
