import type { Column } from './formats';
import type { TaskContext } from './task-context';

/** Writes a stream of row pages in the context's format. */
export async function writeRows<T>(ctx: TaskContext, pages: AsyncIterable<readonly T[]>, columns: readonly Column<T>[], toJson: (row: T) => unknown = (r) => r): Promise<number> {
  const { rowEncoder } = require('./formats') as typeof import('./formats');
  const encoder = rowEncoder(ctx.format, columns, toJson, ctx.io.columns);
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

/** One result object: `key: value` lines in table format, else the data format. */
export function writeObject(ctx: TaskContext, value: Record<string, unknown>): void {
  const { encodeObject, displayValue, sanitizeForTerminal } = require('./formats') as typeof import('./formats');
  if (ctx.format !== 'table') {
    ctx.data(encodeObject(ctx.format, value));
    return;
  }
  const keys = Object.entries(value).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? Object.keys(v).map((k2) => `${k}.${k2}`) : [k]));
  const width = Math.max(...keys.map((k) => k.length));
  for (const [key, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
      for (const [k2, v2] of Object.entries(v)) ctx.io.stdout.write(`${`${key}.${k2}`.padEnd(width)}  ${sanitizeForTerminal(displayValue(v2))}\n`);
    } else {
      ctx.io.stdout.write(`${key.padEnd(width)}  ${sanitizeForTerminal(displayValue(v))}\n`);
    }
  }
}
