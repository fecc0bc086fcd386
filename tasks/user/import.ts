import type { VerbModule } from '../runner/verb';
import { UsageError } from '../../lib/errors';
import type { TaskContext } from '../runner/task-context';
import { batchSizingOf } from '../shared/bulk-options';
import type { ImportPlan, ImportProblem } from '../../lib/import/plan';
import type { CreatedImportRow, LostImportRow } from '../../lib/import/write';

/** One row's outcome, as NDJSON/CSV rows and in the JSON result. */
interface RowResult {
  readonly line: number;
  readonly status: 'created' | 'would_create' | 'skipped' | 'failed';
  readonly nickname: string | null;
  readonly email: string | null;
  readonly id: number | null;
  /** The set-password link, when it was not mailed (printed instead). */
  readonly passwordResetUrl: string | null;
  /** The set-password link went to the user's address. */
  readonly mailed: boolean;
  readonly error: string | null;
}

/** Set-password mails in flight at once: a slow SMTP server must not make a batch wait per user. */
const MAIL_CONCURRENCY = 4;

/** Problems listed on stderr in table format; the rest is counted (NDJSON has every row). */
const MAX_LISTED = 50;

function problemResult(p: ImportProblem | LostImportRow): RowResult {
  return { line: p.line, status: 'failed', nickname: p.nickname, email: p.email, id: null, passwordResetUrl: null, mailed: false, error: p.error };
}

/** Writes per-row results as they come: NDJSON/CSV lines at once, JSON collected for the final object. */
class Results {
  readonly collected: RowResult[] = [];
  private encoder: import('../runner/formats').RowEncoder<RowResult> | null = null;
  listed = 0;
  unlisted = 0;

  constructor(private readonly ctx: TaskContext) {
    if (ctx.format === 'ndjson' || ctx.format === 'csv') {
      const { rowEncoder } = require('../runner/formats') as typeof import('../runner/formats');
      this.encoder = rowEncoder<RowResult>(ctx.format, [], (r) => r);
    }
  }

  async emit(rows: readonly RowResult[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.ctx.format === 'json') {
      this.collected.push(...rows);
    } else if (this.encoder) {
      const text = this.encoder.page(rows);
      if (!this.ctx.io.stdout.write(text)) await new Promise((resolve) => this.ctx.io.stdout.once('drain', resolve));
    }
  }

  /** A problem line on stderr (errors show even with -q), at most MAX_LISTED of them in table format. */
  problem(line: number, error: string): void {
    if (this.ctx.format !== 'table' && this.ctx.format !== 'json') return; // the rows say it on stdout
    if (this.listed >= MAX_LISTED) {
      this.unlisted += 1;
      return;
    }
    this.listed += 1;
    const { sanitizeForTerminal } = require('../runner/formats') as typeof import('../runner/formats');
    this.ctx.io.stderr.write(`line ${line}: ${sanitizeForTerminal(error)}\n`);
  }

  endProblems(): void {
    if (this.unlisted > 0) this.ctx.io.stderr.write(`... and ${this.unlisted} more row(s) with problems (--format ndjson lists every row)\n`);
    this.unlisted = 0;
  }
}

function totalsLine(created: number, skipped: number, failed: number, dryRun: boolean): string {
  return `Created: ${created}, Skipped: ${skipped}, Failed: ${failed}${dryRun ? ' (dry run)' : ''}`;
}

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('file', { type: 'string', describe: 'A .csv or .jsonl file, or - for stdin' })
      .option('input-format', { type: 'string', choices: ['csv', 'jsonl'], describe: 'Format of the input (default: from the extension; for stdin, guessed)' })
      .option('continue-on-error', { type: 'boolean', default: false, describe: 'Import the valid rows even when some have problems (exit 7 then)' })
      .option('skip-email', { type: 'boolean', describe: 'Do not mail the set-password links (mailed when SMTP is configured); only print them' })
      .option('batch-size', { type: 'number', describe: 'Users per transaction (default $CTL_BATCH_SIZE, else 5000 growing while batches are quick; shrinks when a batch takes over a second)' })
      .check((argv) => {
        const b = argv.batchSize as number | undefined;
        if (b !== undefined && (!Number.isInteger(b) || b < 1 || b > 100000)) throw new UsageError(`--batch-size must be a whole number from 1 to 100000, got ${JSON.stringify(b)}`);
        return true;
      })
      .example('$0 user import users.csv --dry-run', 'Check a whole file and report what would be created')
      .example('$0 user import users.jsonl --continue-on-error --format ndjson > results.ndjson', 'Import the valid rows, one result line per row')
      .example('cat users.csv | $0 user import - --input-format csv', 'Read the file from stdin')
      .epilogue(
        'Columns (CSV header or JSONL keys): nickname, email (required), name, bio, admin, moderator, confirmed, tags, password. ' +
          'Without a password a user gets a set-password link: mailed when SMTP is configured, else printed once. The whole file is checked before anything is ' +
          'written; a row whose nickname and email already exist together is skipped, so re-running an interrupted import finishes it.',
      ),
  async run(argv, ctx) {
    const fs = require('node:fs') as typeof import('node:fs');
    const { ConflictError, PartialFailureError, InterruptedError } = require('../../lib/errors') as typeof import('../../lib/errors');
    const { readRecords, formatFromName } = require('../../lib/import/parse') as typeof import('../../lib/import/parse');
    const { planImport } = require('../../lib/import/plan') as typeof import('../../lib/import/plan');
    const { withBulkLock } = require('../../lib/bulk/batches') as typeof import('../../lib/bulk/batches');
    const { encodeObject } = require('../runner/formats') as typeof import('../runner/formats');
    const { startProgress } = require('../runner/progress') as typeof import('../runner/progress');

    // yargs hands a lone `-` over as an empty string; no file is named "" either.
    const file = argv.file === '' || argv.file === undefined ? '-' : String(argv.file);
    let source: AsyncIterable<string | Buffer>;
    if (file === '-') {
      source = ctx.io.stdin;
    } else {
      let stat: import('node:fs').Stats;
      try {
        stat = fs.statSync(file);
      } catch (error) {
        throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      }
      if (stat.isDirectory()) throw new UsageError(`cannot read ${file}: it is a directory`);
      source = fs.createReadStream(file);
    }
    // A failure to read (EACCES, EIO, a stdin that breaks) is about the operator's input: exit 2.
    async function* stream(): AsyncGenerator<string | Buffer> {
      try {
        yield* source;
      } catch (error) {
        throw new UsageError(`cannot read ${file === '-' ? 'stdin' : file}: ${(error as Error).message}`);
      }
    }
    const format = (argv.inputFormat as 'csv' | 'jsonl' | undefined) ?? (file === '-' ? null : formatFromName(file));
    const continueOnError = Boolean(argv.continueOnError);
    const sizing = batchSizingOf(argv, ctx);
    const results = new Results(ctx);
    const lib = await ctx.lib();

    await withBulkLock(lib.db, 'import', async (conn) => {
      let plan: ImportPlan;
      // A file of a million rows takes a while to read and check: the same progress as the writing.
      const reading = startProgress(ctx, 'import (reading)', null);
      let checking: ReturnType<typeof startProgress> | null = null;
      let steps = 0;
      try {
        plan = await planImport(conn, readRecords(stream(), format), {
          signal: ctx.signal,
          onProgress: (phase, rows) => {
            steps += 1;
            if (phase === 'read') return reading.update({ done: rows, total: null, batches: steps });
            if (!checking) {
              reading.stop();
              steps = 1;
              checking = startProgress(ctx, 'import (checking)', null);
            }
            checking.update({ done: rows, total: null, batches: steps });
          },
        });
      } finally {
        reading.stop();
        (checking as ReturnType<typeof startProgress> | null)?.stop();
      }
      const failedAtPlan = plan.problems.length;
      ctx.warn(`Checked ${plan.total} row(s): ${plan.rows.length} to create, ${plan.skipped.length} already there, ${failedAtPlan} with problems${ctx.dryRunSuffix}`);
      for (const p of plan.problems) results.problem(p.line, p.error);
      results.endProblems();
      await results.emit(plan.skipped.map((s) => ({ line: s.line, status: 'skipped', nickname: s.nickname, email: s.email, id: s.id, passwordResetUrl: null, mailed: false, error: null })));
      await results.emit(plan.problems.map(problemResult));

      const finish = (created: number, failed: number, extra: Record<string, unknown> = {}) => {
        ctx.say(totalsLine(created, plan.skipped.length, failed, ctx.dryRun));
        if (ctx.format === 'json') {
          ctx.data(encodeObject('json', { created, skipped: plan.skipped.length, failed, total: plan.total, dryRun: ctx.dryRun, ...extra, rows: results.collected.sort((a, b) => a.line - b.line) }));
        }
      };

      if (failedAtPlan > 0 && !continueOnError) {
        finish(0, failedAtPlan);
        const onlyTaken = plan.problems.every((p) => p.kind === 'taken');
        const why = `nothing imported: ${failedAtPlan} of ${plan.total} row(s) have problems${ctx.format === 'table' || ctx.format === 'json' ? ' (listed above)' : ''}; fix them, or pass --continue-on-error to import the rest`;
        throw onlyTaken ? new ConflictError(why) : new UsageError(why);
      }

      if (ctx.dryRun) {
        await results.emit(plan.rows.map((r) => ({ line: r.line, status: 'would_create', nickname: r.nickname, email: r.email, id: null, passwordResetUrl: null, mailed: false, error: null })));
        const withoutPassword = plan.rows.filter((r) => r.password === null).length;
        if (withoutPassword > 0) ctx.say(`${withoutPassword} user(s) without a password would get a set-password link (dry run)`);
        finish(plan.rows.length, failedAtPlan, { withoutPassword });
        if (failedAtPlan > 0) throw new PartialFailureError(`${failedAtPlan} of ${plan.total} row(s) would fail (dry run)`);
        return;
      }

      const { writeImport } = require('../../lib/import/write') as typeof import('../../lib/import/write');
      const needsHashing = plan.rows.some((r) => r.password !== null);
      const pool = needsHashing ? (require('../../lib/auth/hash-pool') as typeof import('../../lib/auth/hash-pool')).createHashPool() : null;
      const progress = startProgress(ctx, 'import', plan.rows.length);
      let created = 0;
      let lost = 0;
      let printedLinks = 0;
      const mailFailures: { readonly to: string; readonly error: string }[] = [];
      const mailer = argv.skipEmail || !plan.rows.some((r) => r.password === null) ? null : ctx.mailer();
      const { deliver } = require('../shared/mailing') as typeof import('../shared/mailing');
      const templates = require('../../lib/mail/templates') as typeof import('../../lib/mail/templates');
      /** Mails each set-password link when mail is configured; true where it went out. */
      const mailLinks = async (done: readonly CreatedImportRow[]): Promise<boolean[]> => {
        const sent = done.map(() => false);
        if (!mailer) return sent;
        let next = 0;
        const worker = async () => {
          for (let k = next++; k < done.length; k = next++) {
            const d = done[k];
            if (!d.passwordReset) continue;
            const link = d.passwordReset;
            const report = await deliver(ctx, 'set_password', { address: d.email, name: d.name }, () =>
              templates.setPasswordMail({ appUrl: ctx.config.appUrl, nickname: d.nickname, name: d.name, url: link.url, expiresAt: link.expiresAt }),
            );
            if (report.status === 'sent') sent[k] = true;
            else if (report.status === 'failed') mailFailures.push({ to: d.email, error: report.error ?? 'unknown error' });
          }
        };
        await Promise.all(Array.from({ length: MAIL_CONCURRENCY }, worker));
        return sent;
      };
      const onBatch = async (done: readonly CreatedImportRow[], gone: readonly LostImportRow[]) => {
        created += done.length;
        lost += gone.length;
        for (const g of gone) results.problem(g.line, g.error);
        const mailed = await mailLinks(done);
        if (ctx.format === 'table') {
          // A link that was not mailed is the only way into its account: shown even with -q.
          let text = '';
          done.forEach((d, k) => {
            if (!d.passwordReset) return;
            if (mailed[k]) {
              if (!ctx.options.quiet) text += `Set-password link mailed to ${d.email}\n`;
            } else {
              text += `Password reset URL for ${d.nickname}: ${d.passwordReset.url}\n`;
            }
          });
          if (text && !ctx.io.stdout.write(text)) await new Promise((resolve) => ctx.io.stdout.once('drain', resolve));
        }
        printedLinks += done.filter((d, k) => d.passwordReset && !mailed[k]).length;
        await results.emit([
          ...done.map((d, k): RowResult => ({
            line: d.line,
            status: 'created',
            nickname: d.nickname,
            email: d.email,
            id: d.id,
            passwordResetUrl: d.passwordReset && !mailed[k] ? d.passwordReset.url : null,
            mailed: mailed[k],
            error: null,
          })),
          ...gone.map(problemResult),
        ]);
      };
      let stopped = false;
      const stopProgress = () => {
        if (!stopped) progress.stop();
        stopped = true;
      };
      try {
        await writeImport(conn, { ...lib, db: conn }, plan.rows, ctx.config, {
          batchSize: sizing.batchSize,
          maxBatchSize: sizing.maxBatchSize,
          signal: ctx.signal,
          hashPool: pool,
          onProgress: (p) => progress.update(p),
          onBatch,
        });
      } catch (error) {
        stopProgress();
        if (error instanceof InterruptedError) ctx.say(totalsLine(created, plan.skipped.length, failedAtPlan + lost, false));
        throw error;
      } finally {
        stopProgress();
        await pool?.close();
      }
      results.endProblems();
      const failed = failedAtPlan + lost;
      finish(created, failed);
      if (printedLinks > 0 && !argv.skipEmail && !mailer) {
        ctx.warn('No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the set-password links on yourself');
      }
      const why: string[] = [];
      if (failed > 0) why.push(`${failed} of ${plan.total} row(s) failed${ctx.format === 'table' || ctx.format === 'json' ? ' (listed above)' : ''}; ${created} created`);
      if (mailFailures.length > 0) {
        const first = mailFailures[0];
        why.push(`${mailFailures.length} set-password mail(s) could not be sent (to ${first.to}: ${first.error}); their links are printed instead`);
      }
      if (why.length > 0) throw new PartialFailureError(why.join('; '));
    });
  },
};

export default verb;
