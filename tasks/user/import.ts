import * as fs from 'node:fs';
import type { VerbModule } from '../runner/verb';
import type { ResultLine, TaskContext } from '../runner/task-context';
import { rowEncoder, sanitizeForTerminal, type RowEncoder } from '../runner/formats';
import { startProgress, type Progress } from '../runner/progress';
import { batchSizeOption, batchSizingOf } from '../shared/bulk-options';
import { deliver } from '../shared/mailing';
import { UsageError } from '../../lib/errors';
import { DRY_RUN_SUFFIX, clipInput, plural } from '../../lib/text';
import { formatFromName, newReadNotes, readRecordChunks, type InputFormat, type ReadNotes } from '../../lib/import/parse';
import {
  importFailure,
  importUsers,
  ImportInterruptedError,
  type ImportPhase,
  type ImportResult,
  type ImportRowResult,
  type SettledReader,
  type SettledResults,
} from '../../lib/import/import';
import { setPasswordMail } from '../../lib/mail/templates';

/** Problems listed on stderr in table format; the rest is counted (NDJSON has every row). */
const MAX_LISTED = 50;

/** Settled rows written at once, at most (more are read from lib/import's packed store a page at a time). */
export const SETTLED_PAGE = 5000;

/** The columns of a row's result, for the header of a CSV with no rows (as `list`'s empty CSV has its header). */
const RESULT_CSV_KEYS: readonly (keyof ImportRowResult)[] = ['line', 'status', 'nickname', 'email', 'id', 'passwordResetUrl', 'mailed', 'error'];

/**
 * Writes per-row results in the file's order: NDJSON/CSV lines as soon as every row before them is
 * settled, JSON collected for the final object. The check settles the skipped and failed rows at
 * once and the created ones come a batch at a time, in the file's order; the settled rows stay
 * packed in lib/import and are read as the created rows pass them, a page at most between two
 * writes, so a re-run that skips most of a large file does not hold an object for each.
 */
class Results {
  readonly collected: ImportRowResult[] = [];
  private encoder: RowEncoder<ImportRowResult> | null = null;
  /** The rows the check settled, from the first one not written yet. */
  private settled: SettledReader | null = null;
  listed = 0;
  unlisted = 0;

  constructor(private readonly ctx: TaskContext) {
    if (ctx.format === 'ndjson' || ctx.format === 'csv') this.encoder = rowEncoder<ImportRowResult>(ctx.format, [], (r) => r, null, RESULT_CSV_KEYS);
  }

  /** The rows the check settled (skipped, failed): read as the rows before them are out, or written now when nothing is left to create. */
  async checked(settled: SettledResults, rowsToCome: number): Promise<void> {
    if (this.ctx.format === 'json') {
      const all = settled.reader();
      for (let page = all.take(SETTLED_PAGE); page.length > 0; page = all.take(SETTLED_PAGE)) this.collected.push(...page);
    }
    if (!this.encoder) return;
    this.settled = settled.reader();
    if (rowsToCome === 0) await this.flush();
  }

  /** Rows settled later (created, would be created, lost), later in the file than those of any earlier call. */
  async emit(rows: readonly ImportRowResult[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.ctx.format === 'json') {
      // One by one: a batch can hold up to 100,000 rows, past what a spread call takes on V8's stack.
      for (const row of rows) this.collected.push(row);
    } else if (this.encoder) {
      let merged: ImportRowResult[] = [];
      for (const row of [...rows].sort(byLine)) {
        for (;;) {
          const before = this.settled?.take(SETTLED_PAGE - merged.length, row.line) ?? [];
          merged.push(...before);
          if (merged.length < SETTLED_PAGE) break;
          await this.write(merged);
          merged = [];
        }
        merged.push(row);
      }
      await this.write(merged);
    }
  }

  /** The settled rows not written yet: at the end, or when the import stops early. */
  async flush(): Promise<void> {
    if (!this.encoder || !this.settled) return;
    for (let page = this.settled.take(SETTLED_PAGE); page.length > 0; page = this.settled.take(SETTLED_PAGE)) await this.write(page);
  }

  /** After the last row: a CSV with no rows is still its header line. */
  end(): void {
    if (this.encoder) this.ctx.io.stdout.write(this.encoder.end());
  }

  private async write(rows: readonly ImportRowResult[]): Promise<void> {
    if (rows.length === 0 || !this.encoder) return;
    if (!this.ctx.io.stdout.write(this.encoder.page(rows))) await drained(this.ctx);
  }

  /** The problems the check found, on stderr in table and json formats: the first MAX_LISTED, then a count. */
  checkProblems(settled: SettledResults, failed: number): void {
    if (this.ctx.format !== 'table' && this.ctx.format !== 'json') return; // the rows say it on stdout
    const first = settled.reader('failed').take(MAX_LISTED - this.listed);
    for (const r of first) this.problem(r.line, r.error ?? '');
    this.unlisted += failed - first.length;
  }

  /** A problem line on stderr (errors show even with -q), at most MAX_LISTED of them in table format. */
  problem(line: number, error: string): void {
    if (this.ctx.format !== 'table' && this.ctx.format !== 'json') return; // the rows say it on stdout
    if (this.listed >= MAX_LISTED) {
      this.unlisted += 1;
      return;
    }
    this.listed += 1;
    this.ctx.io.stderr.write(`line ${line}: ${sanitizeForTerminal(error)}\n`);
  }

  endProblems(): void {
    if (this.unlisted > 0) this.ctx.io.stderr.write(`... and ${plural(this.unlisted, 'more row')} with problems (--format ndjson lists every row)\n`);
    this.unlisted = 0;
  }
}

const byLine = (a: ImportRowResult, b: ImportRowResult) => a.line - b.line;

/** Waits for a full stdout to drain: a million links must not pile up in memory. */
async function drained(ctx: TaskContext): Promise<void> {
  await new Promise((resolve) => ctx.io.stdout.once('drain', resolve));
}

function totalsLine(created: number, skipped: number, failed: number, dryRun: boolean): string {
  return `Created: ${created}, Skipped: ${skipped}, Failed: ${failed}${dryRun ? DRY_RUN_SUFFIX : ''}`;
}

/** A file system error's message without the path it ends with (`, open '<file>'`): the message names the file once, clipped. */
function withoutPath(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.syscall && e.path ? e.message.replace(`, ${e.syscall} '${e.path}'`, '') : e.message;
}

/** The file named on the command line, or stdin for `-`; a failure to read it is exit 2. */
function openInput(file: string, ctx: TaskContext): AsyncIterable<string | Buffer> {
  let source: AsyncIterable<string | Buffer>;
  if (file === '-') {
    source = ctx.io.stdin;
  } else {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch (error) {
      throw new UsageError(`cannot read ${clipInput(file)}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : withoutPath(error)}`);
    }
    if (stat.isDirectory()) throw new UsageError(`cannot read ${clipInput(file)}: it is a directory`);
    source = fs.createReadStream(file);
  }
  // A failure to read (EACCES, EIO, a stdin that breaks) is about the operator's input: exit 2.
  async function* stream(): AsyncGenerator<string | Buffer> {
    try {
      yield* source;
    } catch (error) {
      throw new UsageError(`cannot read ${file === '-' ? 'stdin' : clipInput(file)}: ${withoutPath(error)}`);
    }
  }
  return stream();
}

/** The link lines of created rows in table format: a link that was not mailed is the only way into its account, so -q keeps it. */
function linkLines(rows: readonly ImportRowResult[]): ResultLine[] {
  const lines: ResultLine[] = [];
  for (const r of rows) {
    if (r.status !== 'created') continue;
    if (r.mailed) lines.push(`Set-password link mailed to ${r.email}`);
    else if (r.passwordResetUrl) lines.push({ keep: `Password reset URL for ${r.nickname}: ${r.passwordResetUrl}` });
  }
  return lines;
}

/** `--input-format`: JSON Lines under the names `list --format` gives it too (a JSON array one object per line is read as such). */
const INPUT_FORMATS: Record<string, InputFormat> = { csv: 'csv', jsonl: 'jsonl', ndjson: 'jsonl', json: 'jsonl' };

/** What a list export's reading noticed, one line each (nothing for a file of import's own columns). */
function readNoteLines(notes: ReadNotes): string[] {
  const lines: string[] = [];
  if (notes.ignoredColumns.length > 0) lines.push(`Ignoring columns import does not set: ${notes.ignoredColumns.join(', ')}`);
  const reasons = (['deleted', 'remote', 'deactivated'] as const).filter((reason) => notes.leftOut[reason] > 0);
  const total = reasons.reduce((sum, reason) => sum + notes.leftOut[reason], 0);
  if (total > 0) {
    const parts = reasons.map((reason) => `${notes.leftOut[reason]} ${reason}`);
    lines.push(`Left out ${plural(total, 'row')} of accounts import does not recreate: ${parts.join(', ')}`);
  }
  return lines;
}

const PROGRESS_LABEL: Record<ImportPhase, string> = { read: 'import (reading)', check: 'import (checking)', write: 'import' };

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(
      y
        .positional('file', { type: 'string', describe: 'A .csv, .jsonl (.ndjson, .json) file, or - for stdin' })
        .option('input-format', {
          type: 'string',
          choices: Object.keys(INPUT_FORMATS),
          describe: 'Format of the input (default: from the extension; for stdin, guessed); ndjson and json are read as jsonl',
        })
        .option('continue-on-error', { type: 'boolean', default: false, describe: 'Import the valid rows even when some have problems (exit 7 then)' })
        .option('skip-email', { type: 'boolean', describe: 'Do not mail the set-password links (mailed when SMTP is configured); only print them' }),
      'Users per transaction (default $CTL_BATCH_SIZE, else 5000 growing while batches are quick; shrinks when a batch takes over a second)',
    )
      .example('$0 user import users.csv --dry-run', 'Check a whole file and report what would be created')
      .example('$0 user import users.jsonl --continue-on-error --format ndjson > results.ndjson', 'Import the valid rows, one result line per row')
      .example('cat users.csv | $0 user import - --input-format csv', 'Read the file from stdin')
      .example('$0 user import users.csv --skip-email', 'Recreate the accounts of a `user list --format csv > users.csv` made on another database')
      .epilogue(
        'Columns (CSV header or JSONL keys): nickname, email (required), name, bio, admin, moderator, confirmed, tags, password. ' +
          'Without a password a user gets a set-password link: mailed when SMTP is configured, else printed once. The whole file is checked before anything is ' +
          'written; a row whose nickname and email already exist together is skipped, so re-running an interrupted import finishes it. ' +
          'A `user list --format csv|ndjson|json` export is read as it is: the columns import does not set (id, active, createdAt, ...) are ' +
          'named once on stderr and ignored, and rows of deleted, remote or deactivated accounts are left out and counted.',
      ),
  async run(argv, ctx) {
    // yargs hands a lone `-` over as an empty string; no file is named "" either.
    const file = argv.file === '' || argv.file === undefined ? '-' : (argv.file as string);
    const input = openInput(file, ctx);
    const format = argv.inputFormat !== undefined ? INPUT_FORMATS[argv.inputFormat as string] : file === '-' ? null : formatFromName(file);
    const notes = newReadNotes();
    const results = new Results(ctx);
    const listedAbove = ctx.format === 'table' || ctx.format === 'json';
    let progress: Progress | null = null;
    const stopProgress = () => {
      progress?.stop();
      progress = null;
    };
    let result: ImportResult;
    try {
      result = await importUsers(await ctx.lib({ bulkJob: true }), readRecordChunks(input, format, notes), ctx.config, {
        run: { ...batchSizingOf(argv, ctx), signal: ctx.signal },
        dryRun: ctx.dryRun,
        continueOnError: Boolean(argv.continueOnError),
        sendSetPasswordMail: argv.skipEmail
          ? undefined
          : (m) =>
              deliver(ctx, 'set_password', { address: m.email, name: m.name }, () =>
                setPasswordMail({ appUrl: ctx.config.appUrl, nickname: m.nickname, name: m.name, url: m.url, expiresAt: m.expiresAt }),
              ),
        onPhase: (phase, total) => {
          stopProgress();
          progress = startProgress(ctx, PROGRESS_LABEL[phase], total);
        },
        onProgress: (_phase, p) => progress?.update(p),
        onChecked: async (check, settled) => {
          stopProgress();
          for (const line of readNoteLines(notes)) ctx.warn(line);
          ctx.warn(
            `Checked ${plural(check.total, 'row')}: ${check.toCreate} to create, ${check.skipped} already there, ${check.failed} with problems${ctx.dryRunSuffix}`,
          );
          results.checkProblems(settled, check.failed);
          results.endProblems();
          // Nothing is created after a check that refuses the file (problems, no --continue-on-error).
          await results.checked(settled, check.failed > 0 && !argv.continueOnError ? 0 : check.toCreate);
        },
        onRows: async (rows) => {
          for (const r of rows) if (r.status === 'failed') results.problem(r.line, r.error ?? '');
          if (ctx.format === 'table') {
            const lines = linkLines(rows);
            if (lines.length > 0) {
              ctx.result(null, lines);
              if (ctx.io.stdout.writableNeedDrain) await drained(ctx);
            }
          }
          await results.emit(rows);
        },
      });
    } catch (error) {
      stopProgress();
      // Interrupted or failed: the rows already settled are still reported.
      await results.flush().catch(() => undefined);
      if (error instanceof ImportInterruptedError) ctx.say(totalsLine(error.totals.created, error.totals.skipped, error.totals.failed, false));
      throw error;
    } finally {
      stopProgress();
    }
    await results.flush();
    results.end();
    if (result.outcome === 'written') results.endProblems();
    if (result.outcome === 'dry_run' && result.withoutPassword > 0)
      ctx.say(`${plural(result.withoutPassword, 'user')} without a password would get a set-password link${ctx.dryRunSuffix}`);
    const extra = result.outcome === 'dry_run' ? { withoutPassword: result.withoutPassword } : {};
    ctx.result(
      ctx.format === 'json'
        ? {
            created: result.created,
            skipped: result.skipped,
            failed: result.failed,
            total: result.total,
            dryRun: result.dryRun,
            ...extra,
            rows: results.collected.sort(byLine),
          }
        : null,
      [totalsLine(result.created, result.skipped, result.failed, result.dryRun)],
    );
    if (result.mail.notConfigured > 0)
      ctx.warn('No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the set-password links on yourself');
    const failure = importFailure(result, listedAbove);
    if (failure) throw failure;
  },
};

export default verb;
