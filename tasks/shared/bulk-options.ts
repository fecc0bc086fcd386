import type { Argv } from 'yargs';
import type { TaskContext } from '../runner/task-context';
import type { BatchSizing } from '../../lib/bulk/batches';
import { UsageError } from '../../lib/errors';
import { encodeObject } from '../runner/formats';

/**
 * `--batch-size N` for every bulk verb: rows per statement, each batch its own transaction; 1 to
 * 1,000,000, the range of CTL_BATCH_SIZE. `describe` words it for a verb (import counts users).
 */
export function batchSizeOption(
  y: Argv,
  describe = 'Rows per batch, each batch its own transaction (default: $CTL_BATCH_SIZE, else 5000 growing while batches are quick)',
): Argv {
  return y.option('batch-size', { type: 'number', describe }).check((argv) => {
    const n = argv.batchSize as number | undefined; // yargs' number (NaN when not one); the runner refuses a repeated option
    if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1_000_000)) {
      // A UsageError, not an Error: the runner's .fail() passes it on as is, so this is exit 2.
      throw new UsageError(`--batch-size must be a whole number from 1 to 1000000, got ${String(n)}`);
    }
    return true;
  });
}

/**
 * The batches of this run: `--batch-size N` is N rows every batch (shrinking only when one holds
 * its locks too long); without it, CTL_BATCH_SIZE's sizing (see lib/config).
 */
export function batchSizingOf(argv: Record<string, unknown>, ctx: TaskContext): BatchSizing {
  if (typeof argv.batchSize === 'number') return { batchSize: argv.batchSize, maxBatchSize: argv.batchSize };
  return { batchSize: ctx.config.batchSize, maxBatchSize: ctx.config.maxBatchSize };
}

/** `a, b, c (and 7 more)`: the sample shown before a bulk verb asks. */
export function sampleText(sample: readonly string[], total: number): string {
  const more = total - sample.length;
  return `${sample.join(', ')}${more > 0 ? ` (and ${more} more)` : ''}`;
}

/**
 * The result object on stdout in json/ndjson/csv; in table format the human lines are the result.
 * @deprecated Use `ctx.result(data, lines)`, the one way a verb prints its result; kept only for
 * the bulk verbs not yet moved to it.
 */
export function emitResult(ctx: TaskContext, value: Record<string, unknown>): void {
  if (ctx.format === 'table') return;
  ctx.data(encodeObject(ctx.format, value));
}

/** Re-exported for the bulk verbs that import it from here; new code imports lib/text. */
export { plural } from '../../lib/text';
