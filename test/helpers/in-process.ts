import { PassThrough, Writable } from 'node:stream';
import { openDatabase, type DbHandle, type OpenOptions } from '../../lib/db/db';
import type { Io } from '../../tasks/runner/io';
import { main } from '../../tasks/runner/main';
import type { OpenDatabase } from '../../tasks/runner/task-context';
import { createOpenTestDatabase, truncateAll, type TestDatabase } from './backend';
import { ctlEnv, type CtlOptions, type CtlResult } from './cli';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** A test file's database, held open for the whole file: in-process verbs and `withDb` share it. */
export interface HeldTestDatabase extends TestDatabase {
  readonly handle: DbHandle;
  /** What `main()` opens its database with: the held handle for this database, lib/db's for any other. */
  readonly openDatabase: OpenDatabase;
}

/** `tdb` with `handle` lent to every in-process run and to `open`/`withDb`. */
export function holdTestDatabase(tdb: TestDatabase, handle: DbHandle): HeldTestDatabase {
  // The runner closes what it opened; the held handle outlives every run, so its close is a no-op.
  const lent: DbHandle = { db: handle.db, backend: handle.backend, where: handle.where, close: async () => undefined };
  const isThis = (opts: OpenOptions) => (tdb.url ? opts.databaseUrl === tdb.url : !opts.databaseUrl && opts.dataDir === tdb.dataDir);
  return {
    ...tdb,
    handle,
    open: async () => lent,
    withDb: (fn) => fn(lent),
    reset: () => truncateAll(handle),
    openDatabase: (opts) => (isThis(opts) ? Promise.resolve(lent) : openDatabase(opts)),
  };
}

/**
 * A command-line test file's database: created and opened before its tests, emptied before each,
 * closed and dropped after. Verbs run in-process through `ctl()` against it.
 */
export function useHeldTestDatabase(use: (tdb: HeldTestDatabase) => void): void {
  let tdb: TestDatabase | undefined;
  let held: HeldTestDatabase | undefined;
  beforeAll(async () => {
    const opened = await createOpenTestDatabase();
    tdb = opened.tdb;
    held = holdTestDatabase(tdb, opened.handle);
    use(held);
  });
  afterAll(async () => {
    await held?.handle.close();
    await tdb?.destroy();
  });
  beforeEach(() => held!.reset());
}

/**
 * Runs one command line through the real parser, runner and verbs (tasks/runner/main.ts `main`,
 * what bin/ctl runs) inside the test process, with the environment a spawned bin/ctl gets. stdin
 * is a pipe holding `input`, so never a TTY; the exit code is what the process would exit with.
 * Whatever needs a real process (a TTY, signals, the embedded database's lock) spawns bin/ctl
 * through `runCtl` instead.
 */
export async function ctl(tdb: TestDatabase | HeldTestDatabase | null, args: readonly string[], opts: CtlOptions = {}): Promise<CtlResult> {
  const stdin = new PassThrough();
  stdin.end(opts.input ?? '');
  const stdout = new Sink();
  const stderr = new Sink();
  const io: Io = { stdin, stdout, stderr, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false, columns: null };
  const code = await main(args, io, ctlEnv(tdb, opts.env), new AbortController().signal, tdb && 'openDatabase' in tdb ? tdb.openDatabase : undefined);
  return { code, signal: null, stdout: stdout.text, stderr: stderr.text };
}
