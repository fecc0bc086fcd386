import { UsageError } from '../../lib/errors';
import { clipInput } from '../../lib/text';

/** The one-letter options every verb has: -y (--assume-yes), -q (--quiet), -h (--help). */
const SHORT = new Set(['y', 'q', 'h']);

/**
 * yargs reads `-dash` as the cluster `-d -a -s -h`, so a mistyped `--dash` printed the help and
 * exited 0. A cluster of letters that are not all one-letter options is a usage error (exit 2);
 * `-yq` still works, and so do `-` (stdin), negative numbers and everything after `--`.
 */
export function rejectUnknownShortClusters(args: readonly string[]): void {
  for (const arg of args) {
    if (arg === '--') return;
    if (!/^-[^-\d]/.test(arg) || arg.length < 3) continue;
    const letters = arg.slice(1).split('=')[0];
    if ([...letters].every((c) => SHORT.has(c))) continue;
    throw new UsageError(
      `unknown option ${clipInput(arg)}: long options take two dashes (-${clipInput(arg)}); one dash groups the one-letter options -y, -q and -h`,
    );
  }
}
