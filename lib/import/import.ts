// lib/import owns `ctl user import`: reading CSV/JSONL (parse.ts), checking every row (plan.ts),
// writing batches (write.ts), and running it all as one job (this file).
import type { LibContext } from '../lib-context';
import { ConflictError, InterruptedError, PartialFailureError, UsageError, type CtlError } from '../errors';
import type { BatchProgress } from '../bulk/batches';
import { runBulkJob, type BulkRun } from '../bulk/job';
import { createHashPool } from '../auth/hash-pool';
import { planImport, type ImportInput, type ImportProblem } from './plan';
import type { ImportSettled, SettledCursor, SettledRows } from './settled';
import { writeImport, type CreatedImportRow, type ImportSettings, type LostImportRow } from './write';
import { DRY_RUN_SUFFIX, plural } from '../text';

/**
 * `ctl user import` as one domain function: under the `import` bulk lock, read and check the
 * whole input (lib/import/plan), then write the valid rows a batch per transaction
 * (lib/import/write) with their passwords hashed in worker threads, and hand each set-password
 * link to the caller's mail function. Rows are reported as they become final (a link only once
 * its batch committed), so a run stopped half-way has already shown every link it created.
 */

/** One row's outcome: an NDJSON/CSV row, and a row of the JSON result. */
export interface ImportRowResult {
  readonly line: number;
  readonly status: 'created' | 'would_create' | 'skipped' | 'failed';
  readonly nickname: string | null;
  readonly email: string | null;
  readonly id: number | null;
  /** The set-password link, when it was not mailed (the caller shows it instead). */
  readonly passwordResetUrl: string | null;
  /** The set-password link went to the user's address. */
  readonly mailed: boolean;
  readonly error: string | null;
}

/** A set-password mail to send: the new user and their one-time link. */
export interface SetPasswordMail {
  readonly nickname: string;
  readonly email: string;
  readonly name: string;
  readonly url: string;
  readonly expiresAt: Date;
}

/** How one mail went (the shape of the task layer's mail report). */
export interface MailOutcome {
  readonly status: 'sent' | 'not_configured' | 'no_address' | 'failed';
  readonly error: string | null;
}

export type ImportPhase = 'read' | 'check' | 'write';

/** What the check of the whole input found, before anything is written. */
export interface ImportCheck {
  readonly total: number;
  readonly toCreate: number;
  readonly skipped: number;
  readonly failed: number;
}

export interface ImportOptions {
  /** Batch sizing and Ctrl-C. */
  readonly run: BulkRun;
  readonly dryRun: boolean;
  /** Write the valid rows even when some have problems (else nothing is written). */
  readonly continueOnError: boolean;
  /** Sends one set-password mail and says how it went (never throws); absent: no link is mailed. */
  readonly sendSetPasswordMail?: (mail: SetPasswordMail) => Promise<MailOutcome>;
  /** A phase begins: reading, checking (rows counted as they go), writing (`total` rows). */
  readonly onPhase?: (phase: ImportPhase, total: number | null) => void;
  readonly onProgress?: (phase: ImportPhase, progress: BatchProgress) => void;
  /**
   * The check is done: its counts, and the rows it settled (skipped, failed), to be read in input
   * order a few at a time (they are as many as the file's rows on a re-run); they stay readable
   * after importUsers has returned or thrown (the caller writes the last of them then).
   */
  readonly onChecked?: (check: ImportCheck, settled: SettledResults) => Promise<void> | void;
  /** Rows settled later: those that would be created (dry run), or a committed batch's created and lost rows. */
  readonly onRows?: (rows: readonly ImportRowResult[]) => Promise<void> | void;
}

export interface ImportResult {
  /** `refused`: some rows have problems and continueOnError was not given, so nothing was written. */
  readonly outcome: 'refused' | 'dry_run' | 'written';
  /** Rows in the input. */
  readonly total: number;
  /** Users created (in a dry run: that would be). */
  readonly created: number;
  readonly skipped: number;
  /** Rows with problems at the check, plus rows lost to a concurrent writer while writing. */
  readonly failed: number;
  readonly dryRun: boolean;
  /** Every problem is a nickname or email already taken (exit 4 rather than 2). */
  readonly onlyTaken: boolean;
  /** Dry run: rows without a password, that would get a set-password link. */
  readonly withoutPassword: number;
  /** Set-password links not mailed, to be passed on by the operator. */
  readonly linksNotMailed: number;
  readonly mail: { readonly sent: number; readonly notConfigured: number; readonly failed: readonly { readonly to: string; readonly error: string }[] };
}

/** The running totals, carried by an interruption (Ctrl-C) so the caller can say how far it got. */
export interface ImportTotals {
  readonly created: number;
  readonly skipped: number;
  readonly failed: number;
}

/** Ctrl-C while writing: exit 130 with writeImport's message, and the totals so far. */
export class ImportInterruptedError extends InterruptedError {
  constructor(
    message: string,
    readonly totals: ImportTotals,
  ) {
    super(message);
  }
}

/** The rows an import's check settled (skipped, failed), packed in lib/import until they are read. */
export class SettledResults {
  constructor(private readonly rows: SettledRows) {}

  get length(): number {
    return this.rows.length;
  }

  /** A reader from the first row (`failed`: of the failed rows only); readers are independent of each other. */
  reader(only?: 'failed'): SettledReader {
    return new SettledReader(this.rows.cursor(only === 'failed'));
  }
}

/** Reads settled rows in input order: each row is unpacked as it is taken. */
export class SettledReader {
  constructor(private readonly cursor: SettledCursor) {}

  /** The next rows, at most `max` of them and only those on lines before `before`; [] once they are all taken. */
  take(max: number, before = Infinity): ImportRowResult[] {
    const out: ImportRowResult[] = [];
    while (out.length < max && this.cursor.nextLine < before) out.push(settledResult(this.cursor.next()!));
    return out;
  }
}

function settledResult(s: ImportSettled): ImportRowResult {
  if (s.status === 'failed') return failedRow(s);
  return { line: s.line, status: 'skipped', nickname: s.nickname, email: s.email, id: s.id, passwordResetUrl: null, mailed: false, error: null };
}

/** Set-password mails in flight at once: a slow SMTP server must not make a batch wait per user. */
const MAIL_CONCURRENCY = 4;

/** Rows of a dry run reported at once. */
const DRY_RUN_PAGE = 5000;

function failedRow(p: ImportProblem | LostImportRow): ImportRowResult {
  return { line: p.line, status: 'failed', nickname: p.nickname, email: p.email, id: null, passwordResetUrl: null, mailed: false, error: p.error };
}

/**
 * Imports the records: see the top of this file. Never prints; the caller shows the rows, the
 * progress and the result, then throws `importFailure(result)` when there is one.
 */
export async function importUsers(ctx: LibContext, records: ImportInput, settings: ImportSettings, opts: ImportOptions): Promise<ImportResult> {
  return runBulkJob(ctx, 'import', opts.run, async (job) => {
    let steps = 0;
    let checking = false;
    opts.onPhase?.('read', null);
    const plan = await planImport(job.ctx.db, records, {
      signal: opts.run.signal,
      onProgress: (phase, rows) => {
        steps += 1;
        if (phase === 'read') return opts.onProgress?.('read', { done: rows, total: null, batches: steps });
        if (!checking) {
          checking = true;
          steps = 1;
          opts.onPhase?.('check', null);
        }
        opts.onProgress?.('check', { done: rows, total: null, batches: steps });
      },
    });
    const failedAtPlan = plan.settled.failed;
    const skipped = plan.settled.skipped;
    await opts.onChecked?.({ total: plan.total, toCreate: plan.rows.length, skipped, failed: failedAtPlan }, new SettledResults(plan.settled));
    const mail = { sent: 0, notConfigured: 0, failed: [] as { to: string; error: string }[] };
    const result = (outcome: ImportResult['outcome'], created: number, failed: number, more: Partial<ImportResult> = {}): ImportResult => ({
      outcome,
      total: plan.total,
      created,
      skipped,
      failed,
      dryRun: opts.dryRun,
      onlyTaken: plan.settled.onlyTaken,
      withoutPassword: 0,
      linksNotMailed: 0,
      mail,
      ...more,
    });

    if (failedAtPlan > 0 && !opts.continueOnError) return result('refused', 0, failedAtPlan);

    if (opts.dryRun) {
      // A page of rows at a time: a million rows unpacked and reported at once would hold them all on the heap.
      for (let from = 0; from < plan.rows.length; from += DRY_RUN_PAGE) {
        await opts.onRows?.(
          plan.rows.slice(from, from + DRY_RUN_PAGE).map((r) => ({
            line: r.line,
            status: 'would_create',
            nickname: r.nickname,
            email: r.email,
            id: null,
            passwordResetUrl: null,
            mailed: false,
            error: null,
          })),
        );
      }
      return result('dry_run', plan.rows.length, failedAtPlan, { withoutPassword: plan.rows.length - plan.rows.withPassword });
    }

    const send = opts.sendSetPasswordMail;
    /** Mails each set-password link (when the caller can); true where it went out. */
    const mailLinks = async (done: readonly CreatedImportRow[]): Promise<boolean[]> => {
      const sent = done.map(() => false);
      if (!send) return sent;
      let next = 0;
      const worker = async () => {
        for (let k = next++; k < done.length; k = next++) {
          const d = done[k];
          if (!d.passwordReset) continue;
          const report = await send({ nickname: d.nickname, email: d.email, name: d.name, url: d.passwordReset.url, expiresAt: d.passwordReset.expiresAt });
          if (report.status === 'sent') {
            sent[k] = true;
            mail.sent += 1;
          } else if (report.status === 'failed') mail.failed.push({ to: d.email, error: report.error ?? 'unknown error' });
          else if (report.status === 'not_configured') mail.notConfigured += 1;
        }
      };
      await Promise.all(Array.from({ length: MAIL_CONCURRENCY }, worker));
      return sent;
    };

    const pool = plan.rows.withPassword > 0 ? createHashPool() : null;
    let created = 0;
    let lost = 0;
    let linksNotMailed = 0;
    opts.onPhase?.('write', plan.rows.length);
    try {
      await writeImport(job, plan.rows, settings, {
        hashPool: pool,
        onProgress: (p) => opts.onProgress?.('write', p),
        onBatch: async (done, gone) => {
          created += done.length;
          lost += gone.length;
          const mailed = await mailLinks(done);
          linksNotMailed += done.filter((d, k) => d.passwordReset && !mailed[k]).length;
          await opts.onRows?.([
            ...done.map((d, k): ImportRowResult => ({
              line: d.line,
              status: 'created',
              nickname: d.nickname,
              email: d.email,
              id: d.id,
              passwordResetUrl: d.passwordReset && !mailed[k] ? d.passwordReset.url : null,
              mailed: mailed[k],
              error: null,
            })),
            ...gone.map(failedRow),
          ]);
        },
      });
    } catch (error) {
      if (error instanceof InterruptedError) throw new ImportInterruptedError(error.message, { created, skipped, failed: failedAtPlan + lost });
      throw error;
    } finally {
      await pool?.close();
    }
    return result('written', created, failedAtPlan + lost, { linksNotMailed });
  });
}

/**
 * The error an import ends with, if any, once its result has been shown: nothing imported
 * because of problems (exit 2, or 4 when every problem is a taken name), or rows or mails that
 * failed (exit 7). `listedAbove`: the problems were listed on stderr (table and json formats).
 */
export function importFailure(r: ImportResult, listedAbove: boolean): CtlError | null {
  const above = listedAbove ? ' (listed above)' : '';
  if (r.outcome === 'refused') {
    const why = `nothing imported: ${r.failed} of ${plural(r.total, 'row')} ${r.failed === 1 ? 'has' : 'have'} problems${above}; fix them, or pass --continue-on-error to import the rest`;
    return r.onlyTaken ? new ConflictError(why) : new UsageError(why);
  }
  if (r.outcome === 'dry_run') return r.failed > 0 ? new PartialFailureError(`${r.failed} of ${plural(r.total, 'row')} would fail${DRY_RUN_SUFFIX}`) : null;
  const why: string[] = [];
  if (r.failed > 0) why.push(`${r.failed} of ${plural(r.total, 'row')} failed${above}; ${r.created} created`);
  if (r.mail.failed.length > 0) {
    const first = r.mail.failed[0];
    why.push(`${plural(r.mail.failed.length, 'set-password mail')} could not be sent (to ${first.to}: ${first.error}); their links are printed instead`);
  }
  return why.length > 0 ? new PartialFailureError(why.join('; ')) : null;
}
