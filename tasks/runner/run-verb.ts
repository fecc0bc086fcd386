import type { ArgumentsCamelCase } from 'yargs';
import type { Env } from '../../lib/config';
import { loadConfig } from '../../lib/config';
import { UsageError } from '../../lib/errors';
import type { Format } from './formats';
import type { Io } from './io';
import { TaskContext, type OpenDatabase } from './task-context';
import type { VerbModule } from './verb';

/** A password in a URL's user part or in its query (`?password=`, as libpq and pg accept). */
function urlHasPassword(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.password !== '' || parsed.searchParams.has('password');
  } catch {
    return false;
  }
}

/**
 * Runs a verb's module with its context. main.ts requires this module (and with it the context,
 * the settings and lib/db) only once yargs has picked a verb: `ctl --help` never loads them.
 */
export async function runVerb(
  state: { readonly io: Io; readonly env: Env; readonly signal: AbortSignal; readonly openDatabase: OpenDatabase | undefined },
  mod: VerbModule,
  argv: ArgumentsCamelCase<Record<string, unknown>>,
): Promise<void> {
  // `--json` is `--format json`: with another --format the command line says two things (a script's
  // `--json` alias plus `--format csv` silently got JSON).
  if (argv.json && argv.format !== undefined && argv.format !== 'json') {
    throw new UsageError(`--json and --format ${argv.format as Format} disagree: give one of them`);
  }
  // An empty --actor (a runbook's unset variable) fell back to $SUDO_USER or $USER without a word:
  // the audit log then named someone the runbook did not.
  if (typeof argv.actor === 'string' && argv.actor.trim() === '') {
    throw new UsageError('--actor is empty: name who acts, or leave the option out for $SUDO_USER or $USER');
  }
  const config = loadConfig(state.env, { databaseUrl: argv.databaseUrl as string | undefined });
  const format: Format = argv.json ? 'json' : ((argv.format as Format | undefined) ?? 'table');
  const ctx = new TaskContext(
    state.io,
    config,
    {
      format,
      quiet: Boolean(argv.quiet),
      dryRun: Boolean(argv.dryRun),
      assumeYes: Boolean(argv.assumeYes),
      actor: (argv.actor as string | undefined) || config.actor,
      reason: (argv.reason as string | undefined) ?? null,
    },
    state.signal,
    undefined,
    state.openDatabase,
  );
  if (typeof argv.databaseUrl === 'string' && urlHasPassword(argv.databaseUrl)) {
    ctx.warn(
      'warning: --database-url holds a password, visible to every user of this machine in the process table; set DATABASE_URL in the environment or the .env file',
    );
  }
  try {
    await mod.run(argv, ctx);
  } finally {
    await ctx.close();
  }
}
