import type { Format } from '../runner/formats';
import type { TaskContext } from '../runner/task-context';
import { csvField, displayValue, toJsonText } from '../runner/formats';
import { copyFields, textArray, timestampAsDriverReadsIt } from '../../lib/db/copy-text';

/**
 * `ctl user list` in json, ndjson or csv, transcoded byte by byte from the server's COPY text
 * (lib/user/list.ts `exportUsers`): no row, field or string object is made for an ordinary row.
 * COPY's escapes for control characters and the backslash are JSON's own, so most bytes are
 * copied as they come. The old path built a driver row, a UserJson and a JSON object per user and
 * took 7x COPY's time. The text is the row renderer's, byte for byte: test/tasks/user/list.test.ts
 * compares the two on awkward values. Fields arrive in lib/user/present.ts USER_COLUMNS order; a
 * field outside the fast path (an array with elements, an unusual timestamp) goes through strings.
 */

const enum Kind {
  Int,
  Text,
  Bool,
  Timestamp,
  Tags,
}

/** USER_COLUMNS (lib/user/present.ts) with their kinds and the JSON key each is written under. */
const FIELDS: readonly { readonly key: string; readonly kind: Kind }[] = [
  { key: 'id', kind: Kind.Int },
  { key: 'nickname', kind: Kind.Text },
  { key: 'email', kind: Kind.Text },
  { key: 'name', kind: Kind.Text },
  { key: 'bio', kind: Kind.Text },
  { key: 'local', kind: Kind.Bool },
  { key: 'admin', kind: Kind.Bool },
  { key: 'moderator', kind: Kind.Bool },
  { key: 'locked', kind: Kind.Bool },
  { key: 'confirmed', kind: Kind.Bool },
  { key: 'active', kind: Kind.Bool },
  { key: 'deletedAt', kind: Kind.Timestamp },
  { key: 'tags', kind: Kind.Tags },
  { key: 'mfaEnabled', kind: Kind.Bool },
  { key: 'createdAt', kind: Kind.Timestamp },
  { key: 'updatedAt', kind: Kind.Timestamp },
  { key: 'lastLoginAt', kind: Kind.Timestamp },
];
/** `deleted` (true when deletedAt is not null) is written just before this field. */
const DELETED_AT = 11;

const CSV_HEADER = Buffer.from(`${[...FIELDS.slice(0, DELETED_AT).map((f) => f.key), 'deleted', ...FIELDS.slice(DELETED_AT).map((f) => f.key)].join(',')}\r\n`);
/** What precedes each field in a JSON line: `{"id":`, `,"nickname":` … */
const JSON_PREFIX = FIELDS.map((f, i) => Buffer.from(`${i === 0 ? '{' : ','}"${f.key}":`));

const bytesOf = (text: string) => Buffer.from(text, 'latin1');
const TRUE = bytesOf('true');
const FALSE = bytesOf('false');
const NULL = bytesOf('null');
const EMPTY_ARRAY = bytesOf('[]');
const COMMA = bytesOf(',');
const DELETED_TRUE = bytesOf(',"deleted":true');
const DELETED_FALSE = bytesOf(',"deleted":false');
const CSV_TRUE = bytesOf('true,');
const CSV_FALSE = bytesOf('false,');
const CLOSE = bytesOf('}');
const CRLF = bytesOf('\r\n');
const NEWLINE = bytesOf('\n');
const JSON_SEPARATOR = bytesOf(',\n');
const TAB = 9;
const LF = 10;
const BACKSLASH = 92;
const QUOTE = 34;
const HEX = '0123456789abcdef';
/** COPY's escape letter → the byte it stands for. */
const UNESCAPED: Record<number, number> = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11, 92: 92 };

/** An output buffer that grows by whole new buffers; written out chunk by chunk. */
class Output {
  buf = Buffer.allocUnsafe(1 << 20);
  pos = 0;
  readonly full: Buffer[] = [];

  /** Room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.full.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(1 << 20, n));
    this.pos = 0;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    const buf = this.buf;
    let p = this.pos;
    // Most pieces are a few bytes (a key, `true`, a comma): a loop beats Buffer#copy's call.
    if (b.length < 48) for (let i = 0; i < b.length; i++) buf[p++] = b[i];
    else p += (b as Buffer).copy ? (b as Buffer).copy(buf, p) : (buf.set(b, p), b.length);
    this.pos = p;
  }

  /** src[start, end) as it is. */
  range(src: Buffer, start: number, end: number): void {
    this.room(end - start);
    const buf = this.buf;
    let p = this.pos;
    for (let i = start; i < end; i++) buf[p++] = src[i];
    this.pos = p;
  }

  ascii(text: string): void {
    this.room(text.length * 3);
    this.pos += this.buf.write(text, this.pos);
  }

  take(): Buffer[] {
    const out = [...this.full, this.buf.subarray(0, this.pos)];
    this.full.length = 0;
    this.buf = this.buf.subarray(this.pos);
    this.pos = 0;
    if (this.buf.length < 1 << 16) this.buf = Buffer.allocUnsafe(1 << 20);
    return out;
  }
}

const isNull = (src: Buffer, start: number, end: number) => end - start === 2 && src[start] === BACKSLASH && src[start + 1] === 78;

/** The field as the string it stores (COPY's escapes undone), for the slow paths. */
function fieldText(src: Buffer, start: number, end: number): string | null {
  return copyFields(src.toString('utf8', start, end))[0];
}

/** A text field as a JSON string: COPY's \\ \n \t \r \b \f are JSON's too. */
function jsonText(out: Output, src: Buffer, start: number, end: number): void {
  if (isNull(src, start, end)) return out.bytes(NULL);
  out.room((end - start) * 6 + 2);
  const buf = out.buf;
  let p = out.pos;
  buf[p++] = QUOTE;
  for (let i = start; i < end; i++) {
    const b = src[i];
    if (b === BACKSLASH) {
      const c = src[++i];
      if (c === 118 || (c >= 48 && c <= 55)) {
        // \v, and octal escapes COPY TO never writes: as JSON.stringify writes the character.
        let code = 11;
        if (c !== 118) {
          let j = i;
          code = 0;
          while (j < end && j < i + 3 && src[j] >= 48 && src[j] <= 55) code = code * 8 + (src[j++] - 48);
          i = j - 1;
        }
        p += buf.write(JSON.stringify(String.fromCharCode(code)).slice(1, -1), p, 'utf8');
      } else {
        buf[p++] = BACKSLASH;
        buf[p++] = c;
      }
    } else if (b === QUOTE) {
      buf[p++] = BACKSLASH;
      buf[p++] = QUOTE;
    } else if (b < 32) {
      buf[p++] = BACKSLASH;
      buf[p++] = 117; // u
      buf[p++] = 48;
      buf[p++] = 48;
      buf[p++] = HEX.charCodeAt(b >> 4);
      buf[p++] = HEX.charCodeAt(b & 15);
    } else {
      buf[p++] = b;
    }
  }
  buf[p++] = QUOTE;
  out.pos = p;
}

/**
 * Writes `2026-11-27 09:48:31.3` (DateStyle ISO, UTC) as toISOString's `2026-11-27T09:48:31.300Z`
 * (milliseconds truncated, as the driver's Date has them), optionally in quotes; false when the
 * text is outside that shape (BC, years past 9999, infinity) and the slow path must take it.
 */
function writeIso(out: Output, src: Buffer, start: number, end: number, quoted: boolean): boolean {
  const n = end - start;
  if (n < 19 || n > 26 || src[start + 4] !== 45 || src[start + 10] !== 32 || (n > 19 && src[start + 19] !== 46)) return false;
  out.room(26);
  const buf = out.buf;
  let p = out.pos;
  if (quoted) buf[p++] = QUOTE;
  for (let i = 0; i < 19; i++) buf[p++] = src[start + i];
  buf[p - 9] = 84; // T, where the space was
  buf[p++] = 46; // .
  for (let i = 20; i < 23; i++) buf[p++] = i < n ? src[start + i] : 48;
  buf[p++] = 90; // Z
  if (quoted) buf[p++] = QUOTE;
  out.pos = p;
  return true;
}

function jsonTimestamp(out: Output, src: Buffer, start: number, end: number): void {
  if (isNull(src, start, end)) return out.bytes(NULL);
  if (writeIso(out, src, start, end, true)) return;
  const value = timestampAsDriverReadsIt(fieldText(src, start, end) as string);
  out.ascii(toJsonText(value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : value));
}

function csvTimestamp(out: Output, src: Buffer, start: number, end: number): void {
  if (isNull(src, start, end)) return;
  if (writeIso(out, src, start, end, false)) return;
  const value = timestampAsDriverReadsIt(fieldText(src, start, end) as string);
  out.bytes(Buffer.from(csvField(displayValue(value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : value))));
}

/** A text field as the CSV renderer writes it: quoted when it holds , " CR LF or starts with = + - @ tab. */
function csvText(out: Output, src: Buffer, start: number, end: number): void {
  if (isNull(src, start, end)) return;
  const first = src[start];
  let quote = first === 61 || first === 43 || first === 45 || first === 64 || (first === BACKSLASH && src[start + 1] === 116);
  for (let i = start; i < end && !quote; i++) {
    const b = src[i];
    if (b === 44 || b === QUOTE) quote = true;
    else if (b === BACKSLASH) {
      const c = src[++i];
      if (c === 110 || c === 114) quote = true;
    }
  }
  out.room((end - start) * 2 + 2);
  const buf = out.buf;
  let p = out.pos;
  if (quote) buf[p++] = QUOTE;
  for (let i = start; i < end; i++) {
    const b = src[i];
    if (b === BACKSLASH) {
      const c = src[++i];
      const plain = UNESCAPED[c];
      if (plain !== undefined) {
        buf[p++] = plain;
      } else {
        // An octal escape (never written by COPY TO): the slow way for the rest of the field.
        out.pos = p;
        const rest = copyFields(`\\${src.toString('utf8', i, end)}`)[0] as string;
        out.bytes(Buffer.from(quote ? rest.replace(/"/g, '""') : rest));
        if (quote) out.bytes(Buffer.from('"'));
        return;
      }
    } else if (b === QUOTE) {
      buf[p++] = QUOTE;
      buf[p++] = QUOTE;
    } else {
      buf[p++] = b;
    }
  }
  if (quote) buf[p++] = QUOTE;
  out.pos = p;
}

/** Writes one COPY line (src[start, end), without its LF) in the format. */
function transcodeLine(out: Output, src: Buffer, start: number, end: number, csv: boolean): void {
  let fieldStart = start;
  for (let k = 0; k < FIELDS.length; k++) {
    // A loop, not Buffer#indexOf: fields are short, and 17 native calls a row cost more than the scan.
    let fieldEnd = fieldStart;
    while (fieldEnd < end && src[fieldEnd] !== TAB) fieldEnd++;
    const kind = FIELDS[k].kind;
    if (csv) {
      if (k > 0) out.bytes(COMMA);
      if (k === DELETED_AT) out.bytes(isNull(src, fieldStart, fieldEnd) ? CSV_FALSE : CSV_TRUE);
    } else {
      if (k === DELETED_AT) out.bytes(isNull(src, fieldStart, fieldEnd) ? DELETED_FALSE : DELETED_TRUE);
      out.bytes(JSON_PREFIX[k]);
    }
    switch (kind) {
      case Kind.Int:
        out.range(src, fieldStart, fieldEnd);
        break;
      case Kind.Bool:
        if (isNull(src, fieldStart, fieldEnd)) {
          if (!csv) out.bytes(NULL);
        } else out.bytes(src[fieldStart] === 116 ? TRUE : FALSE);
        break;
      case Kind.Text:
        if (csv) csvText(out, src, fieldStart, fieldEnd);
        else jsonText(out, src, fieldStart, fieldEnd);
        break;
      case Kind.Timestamp:
        if (csv) csvTimestamp(out, src, fieldStart, fieldEnd);
        else jsonTimestamp(out, src, fieldStart, fieldEnd);
        break;
      case Kind.Tags: {
        if (isNull(src, fieldStart, fieldEnd)) {
          if (!csv) out.bytes(NULL);
        } else if (fieldEnd - fieldStart === 2) {
          if (!csv) out.bytes(EMPTY_ARRAY); // {}
        } else {
          const tags = textArray(fieldText(src, fieldStart, fieldEnd) as string);
          out.bytes(Buffer.from(csv ? csvField(tags) : toJsonText(tags)));
        }
        break;
      }
    }
    fieldStart = fieldEnd + 1;
  }
  out.bytes(csv ? CRLF : CLOSE);
}

/** Writes the export in `format`; returns how many users it wrote. */
export async function writeUserExport(ctx: TaskContext, chunks: AsyncIterable<Uint8Array>, format: Exclude<Format, 'table'>): Promise<number> {
  const out = new Output();
  const csv = format === 'csv';
  let rest: Buffer | null = null;
  let count = 0;
  const flush = async () => {
    for (const piece of out.take()) {
      // Respect back-pressure so a slow pipe never makes us buffer the whole listing.
      if (piece.length > 0 && !ctx.io.stdout.write(piece)) await new Promise((resolve) => ctx.io.stdout.once('drain', resolve));
    }
  };
  for await (const chunk of chunks) {
    const src: Buffer = rest ? Buffer.concat([rest, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (let end = src.indexOf(LF, start); end >= 0; end = src.indexOf(LF, start)) {
      if (count === 0) out.bytes(csv ? CSV_HEADER : Buffer.from(format === 'json' ? '[\n' : ''));
      else if (format === 'json') out.bytes(JSON_SEPARATOR);
      transcodeLine(out, src, start, end, csv);
      if (format === 'ndjson') out.bytes(NEWLINE);
      count++;
      start = end + 1;
    }
    rest = start < src.length ? Buffer.from(src.subarray(start)) : null;
    await flush();
  }
  if (format === 'json') out.ascii(count === 0 ? '[]\n' : '\n]\n');
  await flush();
  return count;
}

/**
 * The export's lines as pages of fields (COPY's escapes undone, null for `\N`), `pageSize` lines
 * each: for the table, whose column widths come from its first page as on the row path.
 */
export async function* exportFieldPages(chunks: AsyncIterable<Uint8Array>, pageSize: number): AsyncGenerator<(string | null)[][]> {
  const decoder = new TextDecoder('utf-8');
  let rest = '';
  let page: (string | null)[][] = [];
  for await (const chunk of chunks) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop() as string;
    for (const line of lines) {
      page.push(copyFields(line));
      if (page.length === pageSize) {
        yield page;
        page = [];
      }
    }
  }
  if (page.length > 0) yield page;
}
