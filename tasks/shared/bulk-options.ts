import type { Argv } from 'yargs';
import type { TaskContext } from '../runner/task-context';
import type { BatchSizing } from '../../lib/bulk/batches';
import type { OwnedCounts } from '../../lib/user/purge';
import { parseWholeNumber, wholeNumberCheck } from './number-options';

/** The range of CTL_BATCH_SIZE. */
const MAX_BATCH_SIZE = 1_000_000;

/**
 * `--batch-size N` for every bulk verb: rows per statement, each batch its own transaction; 1 to
 * 1,000,000, the range of CTL_BATCH_SIZE. `describe` words it for a verb (import counts users).
 */
export function batchSizeOption(
  y: Argv,
  describe = 'Rows per batch, each batch its own transaction (default: $CTL_BATCH_SIZE, else 5000 growing while batches are quick)',
): Argv {
  return y.option('batch-size', { type: 'string', describe }).check(wholeNumberCheck('batch-size', MAX_BATCH_SIZE));
}

/**
 * The batches of this run: `--batch-size N` is N rows every batch (shrinking only when one holds
 * its locks too long); without it, CTL_BATCH_SIZE's sizing (see lib/config).
 */
export function batchSizingOf(argv: Record<string, unknown>, ctx: TaskContext): BatchSizing {
  const n = parseWholeNumber(argv.batchSize, 'batch-size', MAX_BATCH_SIZE);
  if (n !== undefined) return { batchSize: n, maxBatchSize: n };
  return { batchSize: ctx.config.batchSize, maxBatchSize: ctx.config.maxBatchSize };
}

/** `a, b, c (and 7 more)`: the sample shown before a bulk verb asks. */
export function sampleText(sample: readonly string[], total: number): string {
  const more = total - sample.length;
  return `${sample.join(', ')}${more > 0 ? ` (and ${more} more)` : ''}`;
}

/** `  users      3`: the rows of each table a purge deletes (rm --purge, purge_deleted), under a heading. */
export function ownedCountLines(heading: string, counts: OwnedCounts): string[] {
  return [heading, ...Object.entries(counts).map(([table, n]) => `  ${table.padEnd(10)} ${n}`)];
}
