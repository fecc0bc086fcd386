import { UsageError } from '../../lib/errors';
import { quoteInput } from '../../lib/text';

/**
 * A password given as a positional (LibreChat's `reset-password <email> [new_password]`,
 * `create-user ... [password]`): taken as `--password`, so it gets the same process-table warning.
 */
export function withPositionalPassword<T extends Record<string, unknown>>(argv: T, password: unknown): T {
  if (password === undefined || password === null) return argv;
  if (argv.password !== undefined || argv.passwordStdin || argv.passwordFile !== undefined || argv.randomPassword) {
    throw new UsageError('a password was given both as an argument and as an option: give one');
  }
  return { ...argv, password: typeof password === 'string' ? password : JSON.stringify(password) };
}

/** What `ctl user new`'s positionals say, in whichever tool's order they came. */
export interface NewUserForm {
  readonly nickname: string | null;
  readonly email: string;
  readonly name: string | undefined;
  readonly password: string | undefined;
}

/**
 * `new <nickname> <email>` (Pleroma), `new <email>` (nickname from the local part), and
 * LibreChat's `create-user <email> <name> <username> [password]`: an email first, then a word
 * that is not one, is LibreChat's order.
 */
export function newUserForm(positionals: readonly string[]): NewUserForm {
  const [first, second, third, fourth, ...extra] = positionals;
  if (first.includes('@') && second !== undefined && !second.includes('@')) {
    if (extra.length > 0)
      throw new UsageError(`unexpected argument ${quoteInput(String(extra[0]))}: the LibreChat form is new <email> <name> <username> [password]`);
    return { nickname: third ?? null, email: first, name: second, password: fourth };
  }
  if (second === undefined && !first.includes('@'))
    throw new UsageError('missing email: use new <nickname> <email>, or new <email> (the nickname is its local part)');
  if (third !== undefined)
    throw new UsageError(`unexpected argument ${quoteInput(String(third))}: use new <nickname> <email>, or new <email> <name> <username> [password]`);
  return { nickname: second === undefined && first.includes('@') ? null : first, email: second ?? first, name: undefined, password: undefined };
}
