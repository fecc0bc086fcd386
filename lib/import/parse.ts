import { CtlError, UsageError } from '../errors';
import { quoteInput } from '../text';

/** The columns an import file may have; `email` is required, the rest optional. */
export const IMPORT_COLUMNS = ['nickname', 'email', 'name', 'bio', 'admin', 'moderator', 'confirmed', 'tags', 'password'] as const;

/**
 * The columns of a `ctl user list --format csv|ndjson|json` export that import does not set (it
 * creates local, live accounts, with a set-password link in place of any password): a list export
 * may be imported as it is, and these are passed over. `local`, `active` and `deleted` say which
 * rows import cannot recreate (remote, deactivated and deleted accounts): those rows are left out.
 * Lower-cased, as header names and keys are compared.
 */
export const EXPORT_ONLY_COLUMNS = ['id', 'local', 'locked', 'active', 'deleted', 'deletedat', 'mfaenabled', 'createdat', 'updatedat', 'lastloginat'] as const;

export type InputFormat = 'csv' | 'jsonl';

/** Why a row of a list export is left out: import creates local, active, live accounts only. */
export type LeftOutReason = 'deleted' | 'remote' | 'deactivated';

/**
 * What the reading noticed about a list export, for the caller to say once (lib/ never prints):
 * the columns passed over (named as the file spells them, in the order first seen) and how many
 * rows were left out, by reason. Untouched for a file of import's own columns.
 */
export interface ReadNotes {
  ignoredColumns: string[];
  leftOut: Record<LeftOutReason, number>;
}

export function newReadNotes(): ReadNotes {
  return { ignoredColumns: [], leftOut: { deleted: 0, remote: 0, deactivated: 0 } };
}

const EXPORT_ONLY = new Set<string>(EXPORT_ONLY_COLUMNS);
const TRUE_TEXT = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_TEXT = new Set(['false', 'f', 'no', 'n', '0']);

/**
 * A yes/no value of a row (a column of import's own, or a list export's `local`, `active`,
 * `deleted`): true, false, or null when absent or empty; a CtlError naming the key otherwise.
 */
export function parseFlag(values: Readonly<Record<string, unknown>>, key: string): boolean | null {
  const v = values[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v;
  const text = typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);
  const t = text.trim().toLowerCase();
  if (t === '') return null;
  if (TRUE_TEXT.has(t)) return true;
  if (FALSE_TEXT.has(t)) return false;
  throw new CtlError(`${key} must be true or false, not ${quoteInput(text)}`);
}

/** Why the row of a list export (its list-only values by lower-cased name) is left out, or null; throws on a bad flag. */
function leftOutReason(values: Readonly<Record<string, unknown>>): LeftOutReason | null {
  if (parseFlag(values, 'deleted') === true) return 'deleted';
  if (parseFlag(values, 'local') === false) return 'remote';
  if (parseFlag(values, 'active') === false) return 'deactivated';
  return null;
}

/** One record as read, before validation: its first physical line and its values by column. */
export interface RawRecord {
  readonly line: number;
  readonly values: Readonly<Record<string, unknown>>;
  /** Set when the record itself could not be read (a JSONL line that is not a JSON object). */
  readonly error?: string;
}

/** The format named by the file's extension, or null for stdin and unknown extensions. */
export function formatFromName(file: string): InputFormat | null {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  return null;
}

function checkColumns(names: readonly string[]): void {
  const known = new Set<string>(IMPORT_COLUMNS);
  const unknown = names.filter((n) => !known.has(n) && !EXPORT_ONLY.has(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')} in the header: expected ${IMPORT_COLUMNS.join(', ')}`,
    );
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new UsageError(`column ${quoteInput(n)} appears twice in the header`);
    seen.add(n);
  }
  if (!seen.has('email')) throw new UsageError(`the header has no "email" column: expected ${IMPORT_COLUMNS.join(', ')}`);
}

/**
 * An RFC 4180 CSV reader fed chunk by chunk: quoted fields with "" escapes and line breaks inside,
 * CRLF or LF, a UTF-8 byte-order mark. The first record is the header (column names, any case).
 * Blank lines are ignored. Memory holds one record at a time, whatever the size of the file.
 */
export class CsvReader {
  private header: string[] | null = null;
  /** For a list export's header: which columns are list-only (passed over); null for import's own columns. */
  private exportOnly: boolean[] | null = null;
  private field = '';
  private fields: string[] = [];
  private inQuotes = false;
  /** The previous character was a quote inside a quoted field: an escape or the closing quote. */
  private quotePending = false;
  private fieldWasQuoted = false;
  private line = 1;
  private recordLine = 1;
  private started = false;
  private sawCR = false;

  constructor(private readonly notes: ReadNotes = newReadNotes()) {}

  /** Feeds text and returns the records it completed. */
  push(text: string): RawRecord[] {
    const out: RawRecord[] = [];
    let i = 0;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) i = 1;
    }
    for (; i < text.length; i++) {
      const c = text[i];
      if (this.sawCR) {
        this.sawCR = false;
        if (c === '\n') continue; // the LF of a CRLF already ended the record
      }
      if (this.inQuotes) {
        if (this.quotePending) {
          this.quotePending = false;
          if (c === '"') {
            this.field += '"';
            continue;
          }
          this.inQuotes = false; // that quote closed the field: fall through to handle c
        } else if (c === '"') {
          this.quotePending = true;
          continue;
        } else {
          // Take the run of ordinary characters up to the next quote or line break at once.
          let j = i + 1;
          while (j < text.length && text.charCodeAt(j) !== 34 && text.charCodeAt(j) !== 10) j++;
          if (c === '\n') this.line += 1;
          this.field += text.slice(i, j);
          i = j - 1;
          continue;
        }
      }
      if (c === ',') {
        this.endField();
      } else if (c === '\n' || c === '\r') {
        if (c === '\r') this.sawCR = true;
        this.endRecord(out);
        this.line += 1;
        this.recordLine = this.line;
      } else if (c === '"' && this.field === '' && !this.fieldWasQuoted) {
        this.inQuotes = true;
        this.fieldWasQuoted = true;
      } else {
        if (this.fieldWasQuoted) throw new UsageError(`line ${this.line}: text after a closing quote (a quote inside a field must be doubled: "")`);
        if (c === '"') throw new UsageError(`line ${this.line}: a quote in an unquoted field (quote the whole field and double the quote: "")`);
        // The run of ordinary characters up to the next comma, quote or line break, at once.
        let j = i + 1;
        for (; j < text.length; j++) {
          const k = text.charCodeAt(j);
          if (k === 44 || k === 34 || k === 10 || k === 13) break;
        }
        this.field += text.slice(i, j);
        i = j - 1;
      }
    }
    return out;
  }

  /** Ends the input: the last record (without a final line break) and the checks only the end can make. */
  end(): RawRecord[] {
    if (this.inQuotes && !this.quotePending) throw new UsageError(`line ${this.recordLine}: a quoted field is never closed`);
    this.inQuotes = false;
    this.quotePending = false;
    const out: RawRecord[] = [];
    this.endRecord(out);
    if (this.header === null) throw new UsageError(`the file is empty: expected a header line naming the columns (${IMPORT_COLUMNS.join(', ')})`);
    return out;
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.fieldWasQuoted = false;
  }

  private endRecord(out: RawRecord[]): void {
    const blank = this.fields.length === 0 && this.field === '' && !this.fieldWasQuoted;
    if (blank) return;
    this.endField();
    const fields = this.fields;
    this.fields = [];
    if (this.header === null) {
      const names = fields.map((f) => f.trim());
      this.header = names.map((n) => n.toLowerCase());
      checkColumns(this.header);
      const exportOnly = this.header.map((n) => EXPORT_ONLY.has(n));
      if (exportOnly.includes(true)) {
        this.exportOnly = exportOnly;
        this.notes.ignoredColumns.push(...names.filter((_n, k) => exportOnly[k]));
      }
      return;
    }
    const line = this.recordLine;
    if (fields.length !== this.header.length) {
      out.push({ line, values: {}, error: `expected ${this.header.length} fields as in the header, found ${fields.length}` });
      return;
    }
    const values: Record<string, unknown> = {};
    if (this.exportOnly === null) {
      this.header.forEach((name, k) => (values[name] = fields[k]));
      out.push({ line, values });
      return;
    }
    // A list export: its list-only values decide whether the row is left out, then are dropped.
    const exportOnly = this.exportOnly;
    const extra: Record<string, unknown> = {};
    this.header.forEach((name, k) => ((exportOnly[k] ? extra : values)[name] = fields[k]));
    // list writes the tags joined by spaces (a tag has none): read them so, not by import's looser
    // rule, which would split `a;b` and take `[wip] x` for a JSON array.
    if (typeof values.tags === 'string') values.tags = values.tags.split(' ').filter((t) => t !== '');
    const record = exportRecord(line, values, extra, this.notes);
    if (record) out.push(record);
  }

  /** Called after each record so the next one knows its first line. */
  get columns(): readonly string[] | null {
    return this.header;
  }

  /** The physical line the next character pushed is on. */
  get nextLine(): number {
    return this.line;
  }
}

/**
 * A JSON Lines reader: one JSON object per line, keys from IMPORT_COLUMNS (any case). Blank lines
 * are ignored; a line that is not an object is a row error, not the end of the file.
 */
export class JsonlReader {
  private rest = '';
  private line = 0;
  private started = false;
  /** The first line that is not blank: where a JSON array (`ctl user list --format json`) may open. */
  private firstLine = 0;
  /** Inside a JSON array written one object per line (`[`, `{…},` lines, `]`). */
  private inArray = false;
  /** List-only keys already named in the notes (lower-cased). */
  private readonly noted = new Set<string>();

  constructor(private readonly notes: ReadNotes = newReadNotes()) {}

  push(text: string): RawRecord[] {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const data = this.rest + text;
    const parts = data.split('\n');
    this.rest = parts.pop()!;
    return parts.flatMap((p) => this.record(p));
  }

  /** The physical line the next character pushed is on (the held partial line has no line break). */
  get nextLine(): number {
    return this.line + 1;
  }

  end(): RawRecord[] {
    const last = this.rest;
    this.rest = '';
    return last === '' ? [] : this.record(last);
  }

  private record(text: string): RawRecord[] {
    this.line += 1;
    const line = this.line;
    if (text.trim() === '') return [];
    if (this.firstLine === 0) this.firstLine = line;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      // Only a line that is not JSON pays for the array's form: `[`, `{…},`, `]`.
      const array = this.arrayLine(text.trim(), line);
      if (array === undefined) return [{ line, values: {}, error: `not valid JSON: ${(error as Error).message}` }];
      if (array === null) return [];
      value = array;
    }
    if (Array.isArray(value) && line === this.firstLine) {
      // A whole array on its first line (`[]` when list found no one, or `jq -c .`): its objects.
      return value.flatMap((v) => this.object(v, line));
    }
    return this.object(value, line);
  }

  private object(value: unknown, line: number): RawRecord[] {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [{ line, values: {}, error: 'expected a JSON object' }];
    const values: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) values[key.toLowerCase()] = v;
    const known = new Set<string>(IMPORT_COLUMNS);
    const unknown = Object.keys(values).filter((k) => !known.has(k));
    if (unknown.length > 0) {
      const strange = unknown.filter((k) => !EXPORT_ONLY.has(k));
      if (strange.length > 0)
        return [
          {
            line,
            values,
            error: `unknown key${strange.length > 1 ? 's' : ''} ${strange.map((k) => JSON.stringify(k)).join(', ')}: expected ${IMPORT_COLUMNS.join(', ')}`,
          },
        ];
      // A line of a list export: its list-only keys are noted once, decide whether it is left out, and go.
      for (const key of Object.keys(value)) {
        const lower = key.toLowerCase();
        if (EXPORT_ONLY.has(lower) && !this.noted.has(lower)) {
          this.noted.add(lower);
          this.notes.ignoredColumns.push(key);
        }
      }
      const extra: Record<string, unknown> = {};
      for (const k of unknown) {
        extra[k] = values[k];
        delete values[k];
      }
      const record = exportRecord(line, values, extra, this.notes);
      return record ? [record] : [];
    }
    return [{ line, values }];
  }

  /**
   * A line of a JSON array as `ctl user list --format json` writes it, one object per line: null
   * for its `[` and `]`, the object of a `{…},` line; undefined when the line is none of those.
   * A line inside such an array that is not an object is exit 2: the array is in another layout
   * (pretty-printed), and every line of it would be a row error.
   */
  private arrayLine(text: string, line: number): unknown {
    if (!this.inArray) {
      if (text !== '[' || line !== this.firstLine) return undefined;
      this.inArray = true;
      return null;
    }
    if (text === ']') {
      this.inArray = false;
      return null;
    }
    if (text.endsWith(',')) {
      try {
        return JSON.parse(text.slice(0, -1));
      } catch {
        // the message below
      }
    }
    throw new UsageError(
      `line ${line}: a JSON array is read with one object per line, as \`ctl user list --format json\` writes it: convert this file with jq -c '.[]' and import that`,
    );
  }
}

/**
 * The record of a list export's row, its list-only values (`extra`, by lower-cased name) set
 * apart: null when the row is left out (counted in `notes`), a row error when a flag that decides
 * it is not true or false.
 */
function exportRecord(line: number, values: Record<string, unknown>, extra: Readonly<Record<string, unknown>>, notes: ReadNotes): RawRecord | null {
  let reason: LeftOutReason | null;
  try {
    reason = leftOutReason(extra);
  } catch (error) {
    return { line, values, error: (error as Error).message };
  }
  if (reason === null) return { line, values };
  notes.leftOut[reason] += 1;
  return null;
}

/** Guesses the format of stdin from its first non-blank character: `{` is JSON Lines, `[` a JSON array (read as JSON Lines), anything else CSV. */
export function sniffFormat(firstChunk: string): InputFormat {
  const text = firstChunk.replace(/^\uFEFF/, '').trimStart();
  return text.startsWith('{') || text.startsWith('[') ? 'jsonl' : 'csv';
}

/**
 * Reads records from a text stream, one chunk at a time, and yields the records each chunk
 * completed as one array. `format` null: sniffed from the first chunk. An import reads it this
 * way: a million records yielded one by one cost about 1.5 s of promise turns (1.5 µs each,
 * measured at 50,000 records: 101-112 ms one by one against 28-54 ms a chunk at a time).
 */
export async function* readRecordChunks(
  stream: AsyncIterable<string | Buffer>,
  format: InputFormat | null,
  notes: ReadNotes = newReadNotes(),
): AsyncGenerator<RawRecord[]> {
  let reader: CsvReader | JsonlReader | null = null;
  // Fatal: a file saved as Latin-1 or Windows-1252 would otherwise be read with U+FFFD in place of
  // every accented letter (René as Ren�), and imported so without a word.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (chunk?: Buffer): string => {
    try {
      return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
    } catch {
      throw notUtf8(reader?.nextLine ?? 1, chunk);
    }
  };
  for await (const chunk of stream) {
    const text = typeof chunk === 'string' ? chunk : decode(chunk);
    if (text === '') continue;
    reader ??= (format ?? sniffFormat(text)) === 'jsonl' ? new JsonlReader(notes) : new CsvReader(notes);
    const records = reader.push(text);
    if (records.length > 0) yield records;
  }
  const tail = decode();
  reader ??= (format ?? sniffFormat(tail)) === 'jsonl' ? new JsonlReader(notes) : new CsvReader(notes);
  if (tail) {
    const records = reader.push(tail);
    if (records.length > 0) yield records;
  }
  const last = reader.end();
  if (last.length > 0) yield last;
}

/**
 * Exit 2 naming the line of the first bytes that are not UTF-8. `line` is where `chunk` starts; its
 * first bytes may finish a character the previous chunk began, so leading continuation bytes are
 * passed over (if they were the bad ones, the line is `line`, which is where they are).
 */
function notUtf8(line: number, chunk: Buffer | undefined): UsageError {
  let at = line;
  if (chunk !== undefined) {
    let start = 0;
    while (start < 3 && start < chunk.length && (chunk[start] & 0xc0) === 0x80) start++;
    const text = new TextDecoder('utf-8').decode(chunk.subarray(start));
    const bad = text.indexOf('\uFFFD');
    for (let i = text.indexOf('\n'); i >= 0 && i < bad; i = text.indexOf('\n', i + 1)) at++;
  }
  return new UsageError(`line ${at}: not valid UTF-8 (was the file saved as Latin-1 or Windows-1252?): save it as UTF-8 and import it again`);
}

/**
 * Reads records from a text stream, one at a time. `format` null: sniffed from the first chunk.
 *
 * @example
 * for await (const record of readRecords(fs.createReadStream('users.csv', 'utf8'), 'csv')) { ... }
 */
export async function* readRecords(stream: AsyncIterable<string | Buffer>, format: InputFormat | null): AsyncGenerator<RawRecord> {
  for await (const records of readRecordChunks(stream, format)) yield* records;
}
