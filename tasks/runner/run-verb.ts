import type { ArgumentsCamelCase } from 'yargs';
import type { Env } from '../../lib/config';
import { loadConfig } from '../../lib/config';
import type { Format } from './formats';
import type { Io } from './io';
import { TaskContext, type OpenDatabase } from './task-context';
import type { VerbModule } from './verb';

/**
 * Runs a verb's module with its context. main.ts requires this module (and with it the context,
 * the settings and lib/db) only once yargs has picked a verb: `ctl --help` never loads them.
 */
export async function runVerb(
  state: { readonly io: Io; readonly env: Env; readonly signal: AbortSignal; readonly openDatabase: OpenDatabase | undefined },
  mod: VerbModule,
  argv: ArgumentsCamelCase<Record<string, unknown>>,
): Promise<void> {
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
  try {
    await mod.run(argv, ctx);
  } finally {
    await ctx.close();
  }
}
