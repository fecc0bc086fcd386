import * as fs from 'node:fs';
import type { Argv } from 'yargs';
import { UsageError } from '../../lib/errors';
import type { TaskContext } from '../runner/task-context';
import { canHideInput, readAll, readSecret } from '../runner/io';
import { clipInput } from '../../lib/text';

/** --password / --password-stdin / --password-file, shared by every verb that takes a password. */
export function passwordOptions(y: Argv): Argv {
  return y
    .option('password', { type: 'string', describe: 'The password (visible in the process table: prefer the next two)' })
    .option('password-stdin', { type: 'boolean', describe: 'Read the password from stdin' })
    .option('password-file', { type: 'string', describe: 'Read the password from a file' })
    .conflicts('password', ['password-stdin', 'password-file'])
    .conflicts('password-stdin', 'password-file');
}

function firstLine(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** The password given by one of the options, or null when none was. */
export async function readPasswordOption(argv: Record<string, unknown>, ctx: TaskContext): Promise<string | null> {
  if (typeof argv.password === 'string') {
    ctx.warn('warning: --password is visible to every user of this machine in the process table; use --password-stdin or --password-file');
    return argv.password;
  }
  if (argv.passwordStdin) {
    let text: string;
    if (canHideInput(ctx.io)) {
      // Typed at a terminal: not echoed, and ended by Enter so stdin stays open for `Continue?`.
      text = await readSecret(ctx.io, 'Password (not shown; then Enter): ', ctx.signal);
    } else {
      text = firstLine(await readAll(ctx.io, ctx.signal));
    }
    if (text === '') throw new UsageError('--password-stdin read an empty password');
    return text;
  }
  if (typeof argv.passwordFile === 'string') {
    let text: string;
    try {
      text = fs.readFileSync(argv.passwordFile, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --password-file ${clipInput(argv.passwordFile)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    text = firstLine(text);
    if (text === '') throw new UsageError(`--password-file ${clipInput(argv.passwordFile)} is empty`);
    return text;
  }
  return null;
}
