import type { Config } from '../../lib/config';
import { openDatabase as openLibDatabase, type DbHandle, type OpenOptions } from '../../lib/db/db';
import type { LibContext } from '../../lib/lib-context';
import { createMailer, type Mailer } from '../../lib/mail/mailer';
import { encodeObject, keyValueLines, sanitizeForTerminal, type Format } from './formats';
import { RefusedError } from '../../lib/errors';
import { readAnswer, type Io } from './io';
import { DRY_RUN_SUFFIX } from '../../lib/text';

// This module is loaded only when a verb runs (tasks/runner/run-verb.ts, behind the runner's one
// lazy boundary), so it imports lib/db (kysely) at the top; the drivers (pg, PGlite) and nodemailer
// load inside lib/ on first use only.

/** Stored values (a name, a bio) go into human lines: their control characters must not reach the terminal. */
const forTerminal = sanitizeForTerminal;

/** A line of a verb's result for people; `{ keep }` marks one that -q must not hide (a one-time link). */
export type ResultLine = string | { readonly keep: string };

/** The global options every verb understands (CONVENTIONS.md). */
export interface GlobalOptions {
  readonly format: Format;
  readonly quiet: boolean;
  readonly dryRun: boolean;
  readonly assumeYes: boolean;
  readonly actor: string;
  readonly reason: string | null;
}

/**
 * How the runner opens a database: `openDatabase` from lib/db for bin/ctl; tests pass one that
 * hands out a database they keep open (gh's Factory), so a verb runs in-process in milliseconds.
 */
export type OpenDatabase = (opts: OpenOptions) => Promise<DbHandle>;

/**
 * What a task is handed: streams, settings, the global options, and the database opened on first
 * use. Built in one place (the runner); tests replace single fields.
 */
export class TaskContext {
  private handle: DbHandle | null = null;
  private mailerInstance: Mailer | null | undefined;

  constructor(
    readonly io: Io,
    readonly config: Config,
    readonly options: GlobalOptions,
    readonly signal: AbortSignal,
    readonly now: () => Date = () => new Date(),
    private readonly openDatabase: OpenDatabase = openLibDatabase,
  ) {}

  get format(): Format {
    return this.options.format;
  }

  get dryRun(): boolean {
    return this.options.dryRun;
  }

  /**
   * Opens the database once per run: with `schema: 'auto'` (every verb but migrate) the embedded
   * one migrates itself and a server's schema is checked.
   */
  async db(schema: OpenOptions['schema'] = 'auto', connections?: number): Promise<DbHandle> {
    this.handle ??= await this.open(schema, undefined, undefined, connections);
    return this.handle;
  }

  /**
   * A database handle of its own, closed by the caller (`serve` opens and lets go of it repeatedly,
   * with more connections and as a long-lived process: see OpenOptions).
   */
  open(schema: OpenOptions['schema'] = 'auto', poolSize?: number, longLived?: boolean, connections?: number): Promise<DbHandle> {
    return this.openDatabase({
      databaseUrl: this.config.databaseUrl,
      // Run as printed without it, `migrate` would migrate DATABASE_URL's database (or the embedded one).
      migrateCommand: this.config.databaseUrlFromOption ? './bin/ctl migrate --database-url <the same URL>' : undefined,
      dataDir: this.config.dataDir,
      lockWaitMs: this.config.lockWaitMs,
      schema,
      poolSize,
      connections,
      longLived,
      // `serve` closes its handles while it goes on running (a restart of the listener).
      exitsAfterClose: this.io.exitsAfterRun === true && !longLived,
    });
  }

  /**
   * The lib/ context, opening the database on first use. `bulkJob`: the verb runs a bulk job
   * (lib/bulk/job.ts), whose lock and batches take a server connection each; both open at once.
   */
  async lib(opts: { readonly bulkJob?: boolean } = {}): Promise<LibContext> {
    const { db } = await this.db('auto', opts.bulkJob ? 2 : undefined);
    return { db, now: this.now, actor: this.options.actor, reason: this.options.reason };
  }

  /** The SMTP mailer from the settings, made on first use (nodemailer loads only then); null when mail is not configured. */
  mailer(): Mailer | null {
    if (this.mailerInstance === undefined) {
      this.mailerInstance = createMailer(this.config);
    }
    return this.mailerInstance;
  }

  async close(): Promise<void> {
    this.mailerInstance?.close();
    this.mailerInstance = undefined;
    const handle = this.handle;
    this.handle = null;
    if (handle) await handle.close();
  }

  /** A result line for people (`User alice created`): stdout in table format, stderr otherwise, nothing with -q. */
  say(line: string): void {
    if (this.options.quiet) return;
    (this.format === 'table' ? this.io.stdout : this.io.stderr).write(`${forTerminal(line)}\n`);
  }

  /**
   * The one way a verb prints its result. In table format: `lines` on stdout (with -q only the
   * kept ones), or, when no `lines` are given at all, `data` as aligned `key  value` lines (`[]`
   * prints nothing: `serve` has no result for people). In a data format: `data` on stdout (even
   * with -q), and `lines` on stderr (not with -q; kept lines not at all, the data holds them).
   */
  result(data: Record<string, unknown> | null, lines?: readonly ResultLine[]): void {
    if (this.format === 'table') {
      if (lines === undefined) {
        if (data) this.io.stdout.write(keyValueLines(data));
        return;
      }
      // Every line goes to stdout here: one write for all of them, not one a line (an import's
      // batch of 20,000 links was 20,000 write calls).
      let text = '';
      for (const line of lines) {
        if (typeof line !== 'string') text += `${forTerminal(line.keep)}\n`;
        else if (!this.options.quiet) text += `${forTerminal(line)}\n`;
      }
      if (text !== '') this.io.stdout.write(text);
      return;
    }
    for (const line of lines ?? []) if (typeof line === 'string') this.say(line);
    if (data) this.data(encodeObject(this.format, data));
  }

  /** A warning or progress note: always stderr, nothing with -q. */
  warn(line: string): void {
    if (!this.options.quiet) this.io.stderr.write(`${forTerminal(line)}\n`);
  }

  /** Data for machines (any format but table): stdout, even with -q. */
  data(text: string): void {
    this.io.stdout.write(text);
  }

  /** ` (dry run)` after a message when nothing was written (Mastodon's habit). */
  get dryRunSuffix(): string {
    return this.dryRun ? DRY_RUN_SUFFIX : '';
  }

  /**
   * Asks `question` on stderr and reads the answer. -y answers yes; with no TTY on stdin the
   * question cannot be asked, which is exit 5 naming the verb.
   */
  async confirm(question: string, opts: { readonly what: string; readonly declined: string; readonly defaultYes?: boolean }): Promise<void> {
    if (this.options.assumeYes) return;
    if (!this.io.stdinIsTTY) {
      throw new RefusedError(`refusing to ${opts.what} without confirmation: stdin is not a terminal; pass -y to confirm`);
    }
    this.io.stderr.write(question);
    const answer = (await readAnswer(this.io, this.signal)).trim().toLowerCase();
    const yes = answer === '' ? Boolean(opts.defaultYes) : answer === 'y' || answer === 'yes';
    if (!yes) throw new RefusedError(opts.declined);
  }
}
