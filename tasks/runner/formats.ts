/**
 * Renders rows as table, JSON, NDJSON or CSV text. Pure: returns strings, the task layer writes
 * them. Encoders work page by page so a million rows never sit in memory at once.
 */
import { displayWidth, padToWidth } from './display-width';

export type Format = 'table' | 'json' | 'ndjson' | 'csv';
export const FORMATS: readonly Format[] = ['table', 'json', 'ndjson', 'csv'];

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => unknown;
  /** Shrinks first when the table is wider than the terminal. */
  readonly flexible?: boolean;
}

export function displayValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(displayValue).join(' ');
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
    case 'symbol':
    case 'function':
      return String(value);
    default: // an object: null and undefined are handled above
      return JSON.stringify(value);
  }
}

/** Control characters (including ESC, RTL overrides) would let a stored value repaint the terminal. */
export function sanitizeForTerminal(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => (c === '\t' ? ' ' : '\uFFFD'));
}

export function csvField(value: unknown): string {
  const text = displayValue(value);
  return /[",\r\n]/.test(text) || /^[=+\-@\t]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

/**
 * `JSON.stringify(value, jsonReplacer, indent)`, the same text, faster. A replacer function takes
 * V8 off its fast serializer (one call per key: a quarter of the time spent serialising users).
 * Without one, the only difference is that a bigint throws; then the replacer is used.
 */
export function toJsonText(value: unknown, indent?: number): string {
  try {
    return JSON.stringify(value, null, indent);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, jsonReplacer, indent);
  }
}

export interface RowEncoder<T> {
  /** Text for one page of rows. */
  page(rows: readonly T[]): string;
  /** Closing text (the `]` of a JSON array, or `(no rows)`). */
  end(): string;
}

/**
 * Column widths (in terminal columns: tasks/runner/display-width.ts) come from the first page and the terminal width; later pages are cut to fit,
 * so a table streams without reading every row first.
 */
function tableEncoder<T>(columns: readonly Column<T>[], terminalWidth: number | null): RowEncoder<T> {
  let widths: number[] | null = null;
  let count = 0;
  return {
    page(rows) {
      const cells = rows.map((row) => columns.map((c) => sanitizeForTerminal(displayValue(c.value(row)))));
      let out = '';
      if (widths === null) {
        widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => displayWidth(r[i]))));
        if (terminalWidth !== null) shrink(widths, columns, terminalWidth);
        out += `${columns
          .map((c, i) => padToWidth(c.header.toUpperCase(), widths![i]))
          .join('  ')
          .trimEnd()}\n`;
      }
      for (const r of cells)
        out += `${r
          .map((cell, i) => padToWidth(cell, widths![i]))
          .join('  ')
          .trimEnd()}\n`;
      count += rows.length;
      return out;
    },
    end: () => (count === 0 ? '(no rows)\n' : ''),
  };
}

function shrink<T>(widths: number[], columns: readonly Column<T>[], terminalWidth: number): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  const flexible = columns.map((c, i) => (c.flexible ? i : -1)).filter((i) => i >= 0);
  while (total() > terminalWidth) {
    const widest = flexible.reduce((best, i) => (best < 0 || widths[i] > widths[best] ? i : best), -1);
    if (widest < 0 || widths[widest] <= 8) break;
    widths[widest] -= 1;
  }
}

/**
 * `csvKeys`: the keys of a row's JSON, for the header of a CSV with no rows (a reader that expects
 * a header, pandas' read_csv, fails on empty input); without them such a CSV is empty.
 */
export function rowEncoder<T>(
  format: Format,
  columns: readonly Column<T>[],
  toJson: (row: T) => unknown,
  terminalWidth: number | null = null,
  csvKeys: readonly string[] | null = null,
): RowEncoder<T> {
  let count = 0;
  switch (format) {
    case 'table':
      return tableEncoder(columns, terminalWidth);
    case 'json':
      return {
        page(rows) {
          let out = '';
          for (const r of rows) out += `${count++ === 0 ? '[\n' : ',\n'}${toJsonText(toJson(r))}`;
          return out;
        },
        end: () => (count === 0 ? '[]\n' : '\n]\n'),
      };
    case 'ndjson':
      return {
        page(rows) {
          let out = '';
          for (const r of rows) out += `${toJsonText(toJson(r))}\n`;
          return out;
        },
        end: () => '',
      };
    case 'csv': {
      return {
        page(rows) {
          let out = '';
          for (const r of rows) {
            const obj = toJson(r) as Record<string, unknown>;
            if (count++ === 0) out += `${Object.keys(obj).map(csvField).join(',')}\r\n`;
            out += `${Object.values(obj).map(csvField).join(',')}\r\n`;
          }
          return out;
        },
        end: () => (count === 0 && csvKeys !== null ? `${csvKeys.map(csvField).join(',')}\r\n` : ''),
      };
    }
  }
}

/** One object (a verb's result) in the chosen data format. */
export function encodeObject(format: Exclude<Format, 'table'>, value: unknown): string {
  if (format === 'json') return `${toJsonText(value, 2)}\n`;
  if (format === 'ndjson') return `${toJsonText(value)}\n`;
  const obj = value as Record<string, unknown>;
  return `${Object.keys(obj).map(csvField).join(',')}\r\n${Object.values(obj).map(csvField).join(',')}\r\n`;
}

/** One result object as aligned `key  value` lines (nested objects as `key.sub`), for table format. */
export function keyValueLines(value: Record<string, unknown>): string {
  const isGroup = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
  const pairs = Object.entries(value).flatMap(([k, v]) => (isGroup(v) ? Object.entries(v).map(([k2, v2]) => [`${k}.${k2}`, v2] as const) : [[k, v] as const]));
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${sanitizeForTerminal(displayValue(v))}\n`).join('');
}
