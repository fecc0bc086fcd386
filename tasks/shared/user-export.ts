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
const KINDS: readonly Kind[] = FIELDS.map((f) => f.kind);
const fieldIndex = (key: string) => FIELDS.findIndex((f) => f.key === key);
/** `deleted` (true when deletedAt is not null) is written just before this field. */
const DELETED_AT = fieldIndex('deletedAt');

const bytesOf = (text: string) => Buffer.from(text, 'latin1');
const CSV_HEADER = bytesOf(`${[...FIELDS.slice(0, DELETED_AT).map((f) => f.key), 'deleted', ...FIELDS.slice(DELETED_AT).map((f) => f.key)].join(',')}\r\n`);
/** What precedes each field in a JSON line: `{"id":`, `,"nickname":` … (deletedAt: see below). */
const JSON_PREFIX = FIELDS.map((f, i) => bytesOf(`${i === 0 ? '{' : ','}"${f.key}":`));
const JSON_DELETED = bytesOf(`,"deleted":true${JSON_PREFIX[DELETED_AT].toString('latin1')}`);
const JSON_NOT_DELETED = bytesOf(`,"deleted":false${JSON_PREFIX[DELETED_AT].toString('latin1')}`);
/** The flags local … active: FIELDS[FIRST_FLAG, DELETED_AT), booleans that are never null. */
const FIRST_FLAG = fieldIndex('local');
const FLAGS = DELETED_AT - FIRST_FLAG;
const DELETED_BIT = 1 << FLAGS;
/**
 * `,"local":true,…,"active":false,"deleted":false,"deletedAt":` for every value of the flags (bit
 * k for FIELDS[FIRST_FLAG + k]) and of deleted (DELETED_BIT): one copy instead of seven keys and
 * values, each with its branch.
 */
const JSON_FLAGS = Array.from({ length: DELETED_BIT * 2 }, (_, bits) =>
  bytesOf(
    `${FIELDS.slice(FIRST_FLAG, DELETED_AT)
      .map((f, k) => `,"${f.key}":${(bits >> k) & 1 ? 'true' : 'false'}`)
      .join('')},"deleted":${bits & DELETED_BIT ? 'true' : 'false'}${JSON_PREFIX[DELETED_AT].toString('latin1')}`,
  ),
);
/** The same in CSV: `,true,…,false,` (the commas before the flags and after `deleted`). */
const CSV_FLAGS = Array.from({ length: DELETED_BIT * 2 }, (_, bits) =>
  bytesOf(
    `${FIELDS.slice(FIRST_FLAG, DELETED_AT)
      .map((_f, k) => `,${(bits >> k) & 1 ? 'true' : 'false'}`)
      .join('')},${bits & DELETED_BIT ? 'true' : 'false'},`,
  ),
);
/** tags, then mfaEnabled (a flag too) and createdAt, FIELDS' next two. */
const TAGS = fieldIndex('tags');
/** `,"tags":[],"mfaEnabled":false,"createdAt":` and the same with `true`. */
const JSON_NO_TAGS = [false, true].map((mfa) =>
  bytesOf(`${JSON_PREFIX[TAGS].toString('latin1')}[]${JSON_PREFIX[TAGS + 1].toString('latin1')}${mfa}${JSON_PREFIX[TAGS + 2].toString('latin1')}`),
);
/** `{}` then `t` or `f` at `i`: no tags, and mfaEnabled as a flag. */
const noTags = (src: Buffer, i: number) =>
  src[i] === 123 && src[i + 1] === 125 && src[i + 2] === TAB && (src[i + 3] === 116 || src[i + 3] === 102) && src[i + 4] === TAB;
/** The flags at `i` as bits (see JSON_FLAGS); -1 when one is not `t` or `f` (null: the field-by-field path). */
function flagBits(src: Buffer, i: number): number {
  let bits = 0;
  for (let k = 0; k < FLAGS; k++) {
    const b = src[i + 2 * k];
    if (b === 116) bits |= 1 << k;
    else if (b !== 102) return -1;
  }
  return bits;
}
const TRUE = bytesOf('true');
const FALSE = bytesOf('false');
const NULL = bytesOf('null');
const CSV_TRUE = bytesOf('true,');
const CSV_FALSE = bytesOf('false,');
const EMPTY = Buffer.alloc(0);
const JSON_OPEN = bytesOf('[\n');
const JSON_SEPARATOR = bytesOf(',\n');
const JSON_CLOSE = bytesOf('}');
const NDJSON_CLOSE = bytesOf('}\n');
const CRLF = bytesOf('\r\n');
const TAB = 9;
const LF = 10;
const QUOTE = 34;
const COMMA = 44;
const BACKSLASH = 92;
const HEX = bytesOf('0123456789abcdef');
/** COPY's escape letter → the byte it stands for; 0 for a letter COPY TO never writes after `\`. */
const UNESCAPED = new Uint8Array(256);
for (const [letter, byte] of [
  ['b', 8],
  ['f', 12],
  ['n', 10],
  ['r', 13],
  ['t', 9],
  ['v', 11],
  ['\\', 92],
] as const)
  UNESCAPED[letter.charCodeAt(0)] = byte;

/**
 * Output bytes per line beyond six per input byte (the most any byte becomes: a raw control
 * character is `\u00XX`): the keys, `"deleted":false`, quotes around empty fields, separators.
 */
const LINE_SLACK = 1024;
/** Output buffers: written out once half full (fewer, bigger writes), then used again. */
const OUT_SIZE = 1 << 20;
const FLUSH_AT = OUT_SIZE >> 1;
/** Output bytes written ahead of the reader before the transcoding waits for it. */
const PENDING_LIMIT = 4 * OUT_SIZE;

/**
 * The output, in buffers that go back to a spare list once written when `recycle` is set: for a
 * stream that hands its bytes to a file descriptor (a pipe, a file, a terminal) before it calls
 * back. Allocating new ones instead (a few hundred MB for a million users) left V8 collecting
 * them late, as external memory: 35 MB of garbage buffers at the peak.
 */
class Output {
  buf: Buffer;
  pos = 0;
  /** Filled buffers waiting to be written, and how much of each is filled. */
  readonly full: Buffer[] = [];
  readonly fullLengths: number[] = [];
  private readonly spare: Buffer[] = [];

  constructor(private readonly recycle: boolean) {
    this.buf = Buffer.allocUnsafe(OUT_SIZE);
  }

  /** Room for `n` more bytes at `pos`. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.full.push(this.buf);
    this.fullLengths.push(this.pos);
    this.buf = (n <= OUT_SIZE && this.spare.pop()) || Buffer.allocUnsafe(Math.max(OUT_SIZE, n));
    this.pos = 0;
  }

  text(text: string): void {
    this.room(text.length * 3);
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  /** Bytes handed to the stream and not yet written out by it. */
  private pending = 0;
  private wake: (() => void) | null = null;

  /**
   * Hands every filled byte to `stream`; resolves once no more than `limit` bytes wait to be
   * written. Waiting only past a few MB (not for the stream to drain, as before) lets the next rows
   * be transcoded while the reader of the pipe takes these: on two cores the two then overlap
   * instead of taking turns.
   */
  async writeTo(stream: NodeJS.WritableStream, limit = PENDING_LIMIT): Promise<void> {
    this.room(this.buf.length); // moves the current buffer to `full`
    for (let k = 0; k < this.full.length; k++) {
      const buf = this.full[k];
      const length = this.fullLengths[k];
      const recycle = this.recycle && buf.length === OUT_SIZE;
      if (length === 0) {
        if (recycle) this.spare.push(buf);
        continue;
      }
      this.pending += length;
      stream.write(buf.subarray(0, length), () => {
        // Called after an error too (a closed pipe): the stream reports that itself.
        this.pending -= length;
        if (recycle) this.spare.push(buf);
        if (this.wake !== null && this.pending <= limit) {
          const wake = this.wake;
          this.wake = null;
          wake();
        }
      });
    }
    this.full.length = 0;
    this.fullLengths.length = 0;
    // Back-pressure: a slow pipe never makes us buffer the whole listing.
    if (this.pending > limit) await new Promise<void>((resolve) => (this.wake = resolve));
  }
}

/**
 * The line writers below keep the source and output positions in locals and write straight into
 * the output buffer, whose room for the whole line is made once: a field writer returns the output
 * position and leaves the source position past the field's tab here.
 */
let next = 0;

/** Copies a short constant; a loop beats Buffer#copy's native call for a few bytes. */
function put(buf: Buffer, p: number, bytes: Buffer): number {
  for (let j = 0; j < bytes.length; j++) buf[p + j] = bytes[j];
  return p + bytes.length;
}

/** A line that ends before its last field: the export's columns and FIELDS disagree (a bug). */
const SHORT_LINE = 'a COPY line has fewer fields than the export expects';

/** `\N`, COPY's null (a text starting with a backslash has it doubled). */
const isNull = (src: Buffer, i: number) => src[i] === BACKSLASH && src[i + 1] === 78;

/** Where the field starting at `i` ends (its tab, or the line's end). */
function fieldEnd(src: Buffer, i: number, end: number): number {
  while (i < end && src[i] !== TAB) i++;
  return i;
}

/** The field as the string it stores (COPY's escapes undone), for the slow paths. */
function fieldText(src: Buffer, start: number, end: number): string | null {
  return copyFields(src.toString('utf8', start, end))[0];
}

/**
 * A field outside the fast path, through strings: `text` replaces whatever the fast path wrote
 * from output position `at` on, and the rest of the line gets its room again.
 */
function slowField(out: Output, at: number, text: string, fieldEndAt: number, end: number): number {
  out.pos = at;
  out.text(text);
  out.room((end - fieldEndAt) * 6 + LINE_SLACK);
  next = fieldEndAt + 1;
  return out.pos;
}

function hexEscape(buf: Buffer, p: number, b: number): number {
  buf[p] = BACKSLASH;
  buf[p + 1] = 117; // u
  buf[p + 2] = 48;
  buf[p + 3] = 48;
  buf[p + 4] = HEX[b >> 4];
  buf[p + 5] = HEX[b & 15];
  return p + 6;
}

/**
 * A text field as a JSON string, in one pass: COPY's \\ \n \t \r \b \f are JSON's too, so only `"`,
 * `\v` and raw control characters change.
 */
function jsonText(out: Output, buf: Buffer, p: number, src: Buffer, i: number, end: number): number {
  if (isNull(src, i)) {
    next = i + 3;
    return put(buf, p, NULL);
  }
  const from = i;
  const at = p;
  buf[p++] = QUOTE;
  for (;;) {
    const b = src[i++];
    if (b > QUOTE) {
      if (b !== BACKSLASH) {
        buf[p++] = b;
        continue;
      }
      const c = src[i++];
      if (c === 118) {
        p = hexEscape(buf, p, 11); // \v, as JSON.stringify writes it
      } else if (UNESCAPED[c] !== 0) {
        buf[p++] = BACKSLASH;
        buf[p++] = c;
      } else {
        // An escape COPY TO never writes (octal): the slow way.
        const e = fieldEnd(src, from, end);
        return slowField(out, at, toJsonText(fieldText(src, from, e)), e, end);
      }
    } else if (b === TAB) {
      break;
    } else if (i > end) {
      throw new Error(SHORT_LINE);
    } else if (b === QUOTE) {
      buf[p++] = BACKSLASH;
      buf[p++] = QUOTE;
    } else if (b < 32) {
      p = hexEscape(buf, p, b);
    } else {
      buf[p++] = b;
    }
  }
  buf[p++] = QUOTE;
  next = i;
  return p;
}

/** A text field as the CSV renderer writes it: quoted when it holds , " CR LF or starts with = + - @ tab. */
function csvText(out: Output, buf: Buffer, p: number, src: Buffer, i: number, end: number): number {
  if (isNull(src, i)) {
    next = i + 3;
    return p;
  }
  const from = i;
  const at = p;
  const first = src[i];
  let quoted = first === 61 || first === 43 || first === 45 || first === 64 || (first === BACKSLASH && src[i + 1] === 116);
  if (quoted) buf[p++] = QUOTE;
  for (;;) {
    const b = src[i++];
    if (b > COMMA && b !== BACKSLASH) {
      buf[p++] = b;
      continue;
    }
    if (b === TAB) break;
    if (i > end) throw new Error(SHORT_LINE);
    let plain = b;
    if (b === BACKSLASH) {
      plain = UNESCAPED[src[i++]];
      if (plain === 0) {
        const e = fieldEnd(src, from, end);
        return slowField(out, at, csvField(fieldText(src, from, e)), e, end);
      }
    }
    if (!quoted && (plain === COMMA || plain === QUOTE || plain === 10 || plain === 13)) {
      // Found late that the field needs quotes: open them where it started.
      buf.copyWithin(at + 1, at, p);
      buf[at] = QUOTE;
      p++;
      quoted = true;
    }
    if (plain === QUOTE) buf[p++] = QUOTE;
    buf[p++] = plain;
  }
  if (quoted) buf[p++] = QUOTE;
  next = i;
  return p;
}

/**
 * Writes `2026-11-27 09:48:31.3` (DateStyle ISO, UTC) as toISOString's `2026-11-27T09:48:31.300Z`
 * (milliseconds truncated, as the driver's Date has them); -1 when the text is outside that shape
 * (BC, years past 9999, infinity) and the slow path must take it.
 */
function iso(buf: Buffer, p: number, src: Buffer, i: number, e: number): number {
  const n = e - i;
  if (n < 19 || n > 26 || src[i + 4] !== 45 || src[i + 10] !== 32 || (n > 19 && src[i + 19] !== 46)) return -1;
  // Unrolled: loops of a few steps each cost more than the copying.
  buf[p] = src[i];
  buf[p + 1] = src[i + 1];
  buf[p + 2] = src[i + 2];
  buf[p + 3] = src[i + 3];
  buf[p + 4] = 45; // -
  buf[p + 5] = src[i + 5];
  buf[p + 6] = src[i + 6];
  buf[p + 7] = src[i + 7];
  buf[p + 8] = src[i + 8];
  buf[p + 9] = src[i + 9];
  buf[p + 10] = 84; // T, where the space was
  buf[p + 11] = src[i + 11];
  buf[p + 12] = src[i + 12];
  buf[p + 13] = src[i + 13];
  buf[p + 14] = src[i + 14];
  buf[p + 15] = src[i + 15];
  buf[p + 16] = src[i + 16];
  buf[p + 17] = src[i + 17];
  buf[p + 18] = src[i + 18];
  buf[p + 19] = 46; // .
  buf[p + 20] = n > 20 ? src[i + 20] : 48;
  buf[p + 21] = n > 21 ? src[i + 21] : 48;
  buf[p + 22] = n > 22 ? src[i + 22] : 48;
  buf[p + 23] = 90; // Z
  return p + 24;
}

/**
 * Where the timestamp field at `i` ends. Most have all six fractional digits (`… 09:48:31.300154`):
 * checked at that length first, rather than scanning the field for its tab.
 */
function timestampEnd(src: Buffer, i: number, end: number): number {
  const e = i + 26;
  const tabThere = e === end || (e < end && src[e] === TAB);
  if (
    tabThere &&
    src[i + 19] === 46 &&
    src[i + 20] !== TAB &&
    src[i + 21] !== TAB &&
    src[i + 22] !== TAB &&
    src[i + 23] !== TAB &&
    src[i + 24] !== TAB &&
    src[i + 25] !== TAB
  )
    return e;
  return fieldEnd(src, i, end);
}

/** The slow path's timestamp: what the driver made of it, as the row renderer printed it. */
function timestampValue(src: Buffer, i: number, e: number): unknown {
  const value = timestampAsDriverReadsIt(fieldText(src, i, e) as string);
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : value;
}

function jsonTimestamp(out: Output, buf: Buffer, p: number, src: Buffer, i: number, end: number): number {
  if (isNull(src, i)) {
    next = i + 3;
    return put(buf, p, NULL);
  }
  const e = timestampEnd(src, i, end);
  next = e + 1;
  buf[p] = QUOTE;
  const q = iso(buf, p + 1, src, i, e);
  if (q < 0) return slowField(out, p, toJsonText(timestampValue(src, i, e)), e, end);
  buf[q] = QUOTE;
  return q + 1;
}

function csvTimestamp(out: Output, buf: Buffer, p: number, src: Buffer, i: number, end: number): number {
  if (isNull(src, i)) {
    next = i + 3;
    return p;
  }
  const e = timestampEnd(src, i, end);
  next = e + 1;
  const q = iso(buf, p, src, i, e);
  return q >= 0 ? q : slowField(out, p, csvField(displayValue(timestampValue(src, i, e))), e, end);
}

/**
 * Where a text[] field in the fast path ends: `{a,b}` whose elements need no quotes in an array
 * literal (no quote and no backslash anywhere); -1 for anything else (the slow path).
 */
function plainArrayEnd(src: Buffer, i: number, end: number): number {
  if (src[i] !== 123) return -1; // {
  let e = i;
  let plain = true;
  for (let b = src[e]; b !== TAB && e < end; b = src[++e]) if (b === QUOTE || b === BACKSLASH) plain = false;
  return plain ? e : -1;
}

/** An unquoted `NULL` element of an array literal. */
const isNullElement = (src: Buffer, k: number, j: number) => j - k === 4 && src[k] === 78 && src[k + 1] === 85 && src[k + 2] === 76 && src[k + 3] === 76;

function jsonTags(out: Output, buf: Buffer, p: number, src: Buffer, i: number, end: number): number {
  if (isNull(src, i)) {
    next = i + 3;
    return put(buf, p, NULL);
  }
  const e = plainArrayEnd(src, i, end);
  if (e < 0) {
    const f = fieldEnd(src, i, end);
    return slowField(out, p, toJsonText(textArray(fieldText(src, i, f) as string)), f, end);
  }
  next = e + 1;
  buf[p++] = 91; // [
  const close = e - 1;
  for (let k = i + 1; k < close;) {
    let j = k;
    while (j < close && src[j] !== COMMA) j++;
    if (isNullElement(src, k, j)) {
      p = put(buf, p, NULL);
    } else {
      buf[p++] = QUOTE;
      for (let x = k; x < j; x++) {
        const b = src[x];
        if (b < 32) p = hexEscape(buf, p, b);
        else buf[p++] = b;
      }
      buf[p++] = QUOTE;
    }
    if (j < close) buf[p++] = COMMA;
    k = j + 1;
  }
  buf[p++] = 93; // ]
  return p;
}

/** Tags in CSV as the row renderer wrote them: the elements joined by spaces (null as nothing). */
function csvTags(out: Output, buf: Buffer, p: number, src: Buffer, i: number, end: number): number {
  if (isNull(src, i)) {
    next = i + 3;
    return p;
  }
  const e = plainArrayEnd(src, i, end);
  if (e < 0) {
    const f = fieldEnd(src, i, end);
    return slowField(out, p, csvField(textArray(fieldText(src, i, f) as string)), f, end);
  }
  next = e + 1;
  const close = e - 1;
  // No element holds , " CR or LF (the array literal would have quoted it): only a formula-like
  // first character needs quotes.
  const first = src[i + 1];
  const quoted = first === 61 || first === 43 || first === 45 || first === 64;
  if (quoted) buf[p++] = QUOTE;
  for (let k = i + 1; k < close;) {
    let j = k;
    while (j < close && src[j] !== COMMA) j++;
    if (!isNullElement(src, k, j)) for (let x = k; x < j; x++) buf[p++] = src[x];
    if (j < close) buf[p++] = 32;
    k = j + 1;
  }
  if (quoted) buf[p++] = QUOTE;
  return p;
}

/** Writes one COPY line (src[start, end), end at its LF) as a JSON object between `lead` and `trail`. */
function jsonLine(out: Output, src: Buffer, start: number, end: number, lead: Buffer, trail: Buffer): void {
  out.room((end - start) * 6 + LINE_SLACK);
  let buf = out.buf;
  let p = put(buf, out.pos, lead);
  let i = start;
  for (let k = 0; k < KINDS.length; k++) {
    const kind = KINDS[k];
    if (k === FIRST_FLAG) {
      const bits = flagBits(src, i);
      if (bits >= 0) {
        // The six flags, `deleted` and deletedAt's key in one native copy (~110 bytes: a loop
        // takes several times as long).
        const flags = JSON_FLAGS[isNull(src, i + 2 * FLAGS) ? bits : bits | DELETED_BIT];
        buf.set(flags, p);
        p += flags.length;
        i += 2 * FLAGS;
        k = DELETED_AT;
        p = jsonTimestamp(out, buf, p, src, i, end);
        i = next;
        buf = out.buf;
        continue;
      }
    }
    if (k === TAGS && noTags(src, i)) {
      // Most users have no tags: `,"tags":[],"mfaEnabled":…,"createdAt":` in one native copy.
      const keys = JSON_NO_TAGS[src[i + 3] === 116 ? 1 : 0];
      buf.set(keys, p);
      p += keys.length;
      i += 5;
      k = TAGS + 2;
      p = jsonTimestamp(out, buf, p, src, i, end);
      i = next;
      buf = out.buf;
      continue;
    }
    p = put(buf, p, k !== DELETED_AT ? JSON_PREFIX[k] : isNull(src, i) ? JSON_NOT_DELETED : JSON_DELETED);
    if (kind === Kind.Bool) {
      const b = src[i];
      p = put(buf, p, b === 116 ? TRUE : b === 102 ? FALSE : NULL);
      i += b === BACKSLASH ? 3 : 2;
      continue;
    }
    if (kind === Kind.Int) {
      for (let b = src[i]; b !== TAB && i < end; b = src[++i]) buf[p++] = b;
      i++;
      continue;
    }
    if (kind === Kind.Text) p = jsonText(out, buf, p, src, i, end);
    else if (kind === Kind.Timestamp) p = jsonTimestamp(out, buf, p, src, i, end);
    else p = jsonTags(out, buf, p, src, i, end);
    i = next;
    buf = out.buf; // a slow path may have moved to a new buffer
  }
  out.pos = put(buf, p, trail);
}

/** Writes one COPY line (src[start, end), end at its LF) as a CSV record. */
function csvLine(out: Output, src: Buffer, start: number, end: number): void {
  out.room((end - start) * 6 + LINE_SLACK);
  let buf = out.buf;
  let p = out.pos;
  let i = start;
  for (let k = 0; k < KINDS.length; k++) {
    const kind = KINDS[k];
    if (k === FIRST_FLAG) {
      const bits = flagBits(src, i);
      if (bits >= 0) {
        // As in jsonLine: the flags, `deleted` and the commas in one native copy.
        const flags = CSV_FLAGS[isNull(src, i + 2 * FLAGS) ? bits : bits | DELETED_BIT];
        buf.set(flags, p);
        p += flags.length;
        i += 2 * FLAGS;
        k = DELETED_AT;
        p = csvTimestamp(out, buf, p, src, i, end);
        i = next;
        buf = out.buf;
        continue;
      }
    }
    if (k > 0) buf[p++] = COMMA;
    if (kind === Kind.Bool) {
      const b = src[i];
      if (b !== BACKSLASH) p = put(buf, p, b === 116 ? TRUE : FALSE);
      i += b === BACKSLASH ? 3 : 2;
      continue;
    }
    if (kind === Kind.Int) {
      for (let b = src[i]; b !== TAB && i < end; b = src[++i]) buf[p++] = b;
      i++;
      continue;
    }
    if (k === DELETED_AT) p = put(buf, p, isNull(src, i) ? CSV_FALSE : CSV_TRUE);
    if (kind === Kind.Text) p = csvText(out, buf, p, src, i, end);
    else if (kind === Kind.Timestamp) p = csvTimestamp(out, buf, p, src, i, end);
    else p = csvTags(out, buf, p, src, i, end);
    i = next;
    buf = out.buf;
  }
  out.pos = put(buf, p, CRLF);
}

/** What the line loop keeps between chunks. */
interface Export {
  readonly out: Output;
  readonly format: Exclude<Format, 'table'>;
  /** What precedes the next JSON object: `[` before the first, `,` between them. */
  lead: Buffer;
  count: number;
}

function writeLine(x: Export, src: Buffer, start: number, end: number): void {
  if (x.format === 'csv') {
    if (x.count === 0) {
      x.out.room(CSV_HEADER.length);
      x.out.pos = put(x.out.buf, x.out.pos, CSV_HEADER);
    }
    csvLine(x.out, src, start, end);
  } else {
    jsonLine(x.out, src, start, end, x.lead, x.format === 'ndjson' ? NDJSON_CLOSE : JSON_CLOSE);
    if (x.format === 'json') x.lead = JSON_SEPARATOR;
  }
  x.count++;
}

/**
 * Writes every whole line of `src` from `start` on; returns where the unfinished one starts. Out of
 * writeUserExport's loop so that V8 compiles the line writers into this function only, not again
 * into the async function's loop: that second compilation took ~20 ms of CPU per run (on a
 * machine where the database and the reader of the pipe want the other core).
 */
function writeLines(x: Export, src: Buffer, start: number): number {
  // Line ends are found in a latin1 copy of the chunk (a byte per character): String#indexOf is
  // a builtin, as fast with the copy as Buffer#indexOf's native call per line. And the copy is
  // young garbage, so V8 scavenges at the pace of the input and frees the socket's buffers
  // (external memory) soon: without it they piled up to ~35 MB between full collections; with
  // it ~6 MB (1M users: peak RSS 105 MB → 77 MB).
  const text = src.toString('latin1');
  for (let end = text.indexOf('\n', start); end >= 0; end = text.indexOf('\n', start)) {
    writeLine(x, src, start, end);
    start = end + 1;
  }
  return start;
}

/** Writes the export in `format`; returns how many users it wrote. */
export async function writeUserExport(ctx: TaskContext, chunks: AsyncIterable<Uint8Array>, format: Exclude<Format, 'table'>): Promise<number> {
  const out = new Output(typeof (ctx.io.stdout as { fd?: unknown }).fd === 'number');
  const x: Export = { out, format, lead: format === 'json' ? JSON_OPEN : EMPTY, count: 0 };
  // The start of a line the last chunk ended in: only it is copied, not the chunk it continues in.
  let rest: Buffer | null = null;
  for await (const chunk of chunks) {
    const src = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    if (rest !== null) {
      const end = src.indexOf(LF);
      if (end < 0) {
        rest = Buffer.concat([rest, src]);
        continue;
      }
      const joined = Buffer.concat([rest, src.subarray(0, end + 1)]);
      writeLine(x, joined, 0, joined.length - 1);
      start = end + 1;
      rest = null;
    }
    start = writeLines(x, src, start);
    if (start < src.length) rest = Buffer.from(src.subarray(start));
    if (out.pos >= FLUSH_AT || out.full.length > 0) await out.writeTo(ctx.io.stdout);
  }
  if (format === 'json') out.text(x.count === 0 ? '[]\n' : '\n]\n');
  // No rows: the header alone, for readers that expect one (pandas' read_csv fails on empty input).
  if (format === 'csv' && x.count === 0) out.text(CSV_HEADER.toString('latin1'));
  await out.writeTo(ctx.io.stdout, 0);
  return x.count;
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
