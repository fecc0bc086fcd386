import { UsageError } from '../../lib/errors';
import { quoteInput } from '../../lib/text';

/**
 * A whole-number option (`--limit`, `--batch-size`) from 1 to `max`, or undefined when not given.
 * Exit 2 quoting the value as typed: yargs' own number type would have turned `abc` into NaN (or
 * null) and an empty value into 0 before anyone could say what was wrong with it.
 */
export function parseWholeNumber(value: unknown, option: string, max: number = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? 'a positive whole number' : `a whole number from 1 to ${max}`;
    throw new UsageError(`--${option} must be ${range}, got ${quoteInput(text)}`);
  }
  return n;
}

/**
 * The `.check()` of a whole-number option declared `{ type: 'string' }` (so its value reaches the
 * check as typed; the runner refuses a repeated option before this runs). The verb reads the number
 * back with `parseWholeNumber(argv.<option>, ...)`.
 */
export function wholeNumberCheck(option: string, max?: number): (argv: Record<string, unknown>) => true {
  const key = option.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return (argv) => {
    // A UsageError, not an Error: the runner's .fail() passes it on as is, so this is exit 2.
    parseWholeNumber(argv[key], option, max);
    return true;
  };
}
