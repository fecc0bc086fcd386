import yargs, { type Argv, type ArgumentsCamelCase } from 'yargs';
import { CtlError, UsageError, exitCodeOf, InterruptedError } from '../../lib/errors';
import type { Env } from '../../lib/config';
import { FORMATS, sanitizeForTerminal, type Format } from './formats';
import { isConnectionLoss } from '../../lib/db/pg-errors';
import { processIo, type Io } from './io';
import type { VerbEntry, VerbModule } from './verb';
import type { OpenDatabase } from './task-context';
import { aliasesOf } from './verb';
import { USER_VERBS } from '../user/index';
import { OTHER_COMMANDS } from './commands';
import { rejectUnknownShortClusters } from './short-options';
import { MAX_ECHOED_INPUT, clipInput, quoteInput } from '../../lib/text';

interface RunState {
  readonly io: Io;
  readonly env: Env;
  readonly signal: AbortSignal;
  readonly openDatabase: OpenDatabase | undefined;
  exitCode: number;
}

/** Turns any failure into one line on stderr and its exit code: the only place that does. */
function report(state: RunState, error: unknown): void {
  let code = exitCodeOf(error);
  let message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof CtlError)) {
    if (isConnectionLoss(error)) {
      code = 6;
      message = `lost the connection to the database: ${message.split('\n')[0]}; nothing of the unfinished transaction was saved`;
    } else {
      message = `internal error: ${message.split('\n')[0]} (set DEBUG=1 for the stack trace)`;
    }
  }
  // One line, always: yargs' own messages span several. The message may quote what was typed
  // (`No user <ref>`): its control characters must not reach the terminal.
  state.io.stderr.write(`${sanitizeForTerminal(message.trim().replace(/\s*\n\s*/g, ' '))}\n`);
  if (state.env.DEBUG && error instanceof Error && error.stack) state.io.stderr.write(`${error.stack}\n`);
  state.exitCode = code;
}

/** Registers a verb whose module is required only when yargs picks it. */
export function registerVerb(y: Argv, state: RunState, entry: VerbEntry): Argv {
  let mod: VerbModule | null = null;
  const load = () => (mod ??= entry.load());
  return y.command({
    command: entry.command,
    aliases: aliasesOf(entry),
    describe: entry.hidden ? false : entry.describe,
    builder: (inner: Argv) => load().builder(inner),
    // The runner's one lazy boundary: the verb's module, and the context that runs it, load here.
    // The one lazy boundary: the context, settings and lib/db load only once yargs has picked a verb.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- keeps `ctl user --help` free of kysely and pg
    handler: (argv: ArgumentsCamelCase<Record<string, unknown>>) => (require('./run-verb') as typeof import('./run-verb')).runVerb(state, load(), argv),
  });
}

function globalOptions(y: Argv): Argv {
  return y
    .option('database-url', { type: 'string', describe: 'PostgreSQL URL (else $DATABASE_URL, else the embedded database)' })
    .option('format', { type: 'string', choices: FORMATS as Format[], describe: 'Output format' })
    .option('json', { type: 'boolean', describe: 'Same as --format json' })
    .option('assume-yes', { alias: 'y', type: 'boolean', describe: 'Answer yes to confirmations' })
    .option('dry-run', { type: 'boolean', describe: 'Report what would change; change nothing' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Print only errors (and requested data)' })
    .option('actor', { type: 'string', describe: 'Who acts, for the audit log (default $SUDO_USER, then $USER)' })
    .option('reason', { type: 'string', describe: 'Why, for the audit log' })
    .group(['database-url', 'format', 'json', 'assume-yes', 'dry-run', 'quiet', 'actor', 'reason', 'help'], 'Global options:');
}

/**
 * yargs strips one pair of quotes around the value of `--opt="value"` (not of `--opt "value"`), as
 * if it were a shell: `--name='"Jane"'` arrived as `Jane`. The shell has already removed the quotes
 * the user meant as quoting, so an extra pair for yargs to strip keeps every value as typed.
 */
export function protectQuotedValues(args: readonly string[]): string[] {
  let options = true;
  return args.map((arg) => {
    if (arg === '--') options = false;
    if (!options || !/^--.+=/.test(arg)) return arg;
    const eq = arg.indexOf('=', 3);
    const value = arg.slice(eq + 1);
    const q = value[0];
    return (q === '"' || q === "'") && value[value.length - 1] === q ? `${arg.slice(0, eq + 1)}${q}${value}${q}` : arg;
  });
}

/** Variadic positionals (`tag <user> <tags..>`): arrays by design. */
const VARIADIC = new Set([...USER_VERBS, ...OTHER_COMMANDS].flatMap((e) => [...e.command.matchAll(/[<[]([\w-]+)\.\.[>\]]/g)].map((m) => m[1])));

/**
 * yargs turns a repeated option (`--name a --name b`) into an array, which a string or number
 * option would then store or compare as '{"a","b"}': refuse it (exit 2).
 */
function rejectRepeatedValues(argv: Record<string, unknown>, y: Argv): void {
  const declared = (y as unknown as { getOptions(): { string?: string[]; number?: string[] } }).getOptions();
  for (const key of [...(declared.string ?? []), ...(declared.number ?? [])]) {
    if (!VARIADIC.has(key) && Array.isArray(argv[key]))
      throw new UsageError(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} was given more than once`);
  }
}

/**
 * yargs' own messages repeat what was typed (`Unknown argument: <arg>`, `Given: "<value>"`): each
 * long argument in them is clipped as lib/'s messages clip what they quote (clipInput).
 */
export function clipEchoedArgs(message: string, args: readonly string[]): string {
  const long = new Set<string>();
  for (const arg of args) {
    const bare = arg.replace(/^-+/, '');
    for (const part of [arg, bare, bare.split('=')[0], arg.slice(arg.indexOf('=') + 1)]) if (part.length > MAX_ECHOED_INPUT) long.add(part);
  }
  let out = message;
  for (const part of [...long].sort((a, b) => b.length - a.length)) out = out.split(part).join(clipInput(part));
  return out;
}

function buildParser(state: RunState, args: readonly string[]): Argv {
  let y = yargs()
    .scriptName('ctl')
    .usage('$0 <noun> <verb> [options]')
    .parserConfiguration({ 'boolean-negation': true, 'strip-aliased': true })
    .wrap(Math.min(110, state.io.columns ?? 100));
  y = globalOptions(y).command('user', 'Manage user accounts', (inner: Argv) => {
    let u = inner.usage('$0 user <verb> [options]');
    for (const entry of USER_VERBS) u = registerVerb(u, state, entry);
    return u.demandCommand(1, 'name a verb: ctl user --help lists them').strictCommands();
  });
  for (const entry of OTHER_COMMANDS) y = registerVerb(y, state, entry);
  return y
    .middleware(rejectRepeatedValues as unknown as Parameters<Argv['middleware']>[0])
    .completion('completion', 'Print a shell completion script')
    .demandCommand(1, 'name a command: ctl --help lists them')
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .showHelpOnFail(false)
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(clipEchoedArgs(message, args));
    })
    .epilogue('Exit codes: 0 done, 2 usage, 3 not found, 4 conflict, 5 refused, 6 unavailable, 7 partial failure, 130 interrupted.');
}

/**
 * Runs one command line; resolves to the exit code. `openDatabase` replaces lib/db's (tests hand
 * every run the database they hold open).
 */
export async function main(
  args: readonly string[],
  io: Io = processIo(),
  env: Env = process.env,
  signal: AbortSignal = new AbortController().signal,
  openDatabase?: OpenDatabase,
): Promise<number> {
  const state: RunState = { io, env, signal, openDatabase, exitCode: 0 };
  try {
    // A shell cannot pass a NUL byte, but a caller of main() can; PostgreSQL cannot store one.
    const nul = args.find((a) => a.includes('\0'));
    if (nul !== undefined) throw new UsageError(`an argument contains a NUL byte: ${quoteInput(nul)}`);
    rejectUnknownShortClusters(args);
    // With a callback yargs hands over what it would print (help, completion) instead of writing
    // to the console itself, so it reaches io.stdout like every other result.
    await buildParser(state, args).parseAsync(protectQuotedValues(args), {}, (_error, _argv, output) => {
      if (output) io.stdout.write(`${output}\n`);
    });
  } catch (error) {
    report(state, error);
  }
  return state.exitCode;
}

/** The process entry: wires SIGINT to an abort (bulk verbs finish their batch) and sets the exit status. */
export function cli(): void {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) {
      process.stderr.write('interrupted\n');
      process.exit(130);
    }
    controller.abort(new InterruptedError('interrupted'));
  });
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // `ctl user list | head` closes the pipe: stop quietly, as cat does.
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  void main(process.argv.slice(2), processIo(), process.env, controller.signal).then((code) => {
    process.exitCode = code;
  });
}
