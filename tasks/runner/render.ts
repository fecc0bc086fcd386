import type { Column } from './formats';
import type { TaskContext } from './task-context';
import { rowEncoder } from './formats';

/** Writes a stream of row pages in the context's format. */
export async function writeRows<T>(
  ctx: TaskContext,
  pages: AsyncIterable<readonly T[]>,
  columns: readonly Column<T>[],
  toJson: (row: T) => unknown = (r) => r,
  csvKeys: readonly string[] | null = null,
): Promise<number> {
  const encoder = rowEncoder(ctx.format, columns, toJson, ctx.io.columns, csvKeys);
  let count = 0;
  for await (const page of pages) {
    count += page.length;
    const text = encoder.page(page);
    // Respect back-pressure so a slow pipe never makes us buffer the whole listing.
    if (!ctx.io.stdout.write(text)) await new Promise((resolve) => ctx.io.stdout.once('drain', resolve));
  }
  ctx.io.stdout.write(encoder.end());
  return count;
}
