/** A row that passed every check: what will be written. */
export interface ImportRow {
  readonly line: number;
  readonly nickname: string;
  readonly email: string;
  readonly name: string;
  readonly bio: string;
  readonly admin: boolean;
  readonly moderator: boolean;
  readonly confirmed: boolean;
  /** Lower-cased, unique, sorted, as `tag` stores them. */
  readonly tags: readonly string[];
  /** null: no password; the account gets a set-password (reset) link. */
  readonly password: string | null;
}

/** What writing an import needs of its rows: a plain array does, and so does an ImportRowStore. */
export interface ImportRowSource {
  readonly length: number;
  slice(from: number, to: number): readonly ImportRow[];
}

/** Bytes a block of rows holds (a row larger than this gets a block of its own). */
const BLOCK_BYTES = 1 << 20;

const ADMIN = 1;
const MODERATOR = 2;
const CONFIRMED = 4;
const NAME = 8; // a name other than the nickname
const BIO = 16;
const TAGS = 32;
const PASSWORD = 64;

/** Any character that latin1 cannot hold: such a text is kept as UTF-16 (lossless, lone surrogates included). */
const WIDE = /[^\u0000-\u00ff]/;

/**
 * Records packed as bytes in 1 MB blocks outside V8's heap, addressed by their index: the storage
 * of ImportRowStore and SettledRowStore. A subclass writes a record through `room` and `wrote`,
 * and reads record `i` from `find(i)`.
 */
export abstract class PackedRecords {
  private readonly blocks: Buffer[] = [];
  private block: Buffer = Buffer.allocUnsafe(0);
  private used = 0;
  private count = 0;
  private blockOf = new Uint32Array(1024);
  private startOf = new Uint32Array(1024);

  get length(): number {
    return this.count;
  }

  /** A new record of at most `bound` bytes: the block to write it in and where; then `wrote(end)`. */
  protected room(bound: number): { b: Buffer; at: number } {
    if (this.used + bound > this.block.length) {
      this.block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, bound));
      this.blocks.push(this.block);
      this.used = 0;
    }
    if (this.count === this.blockOf.length) {
      this.blockOf = grow(this.blockOf);
      this.startOf = grow(this.startOf);
    }
    this.blockOf[this.count] = this.blocks.length - 1;
    this.startOf[this.count] = this.used;
    this.count += 1;
    return { b: this.block, at: this.used };
  }

  protected wrote(end: number): void {
    this.used = end;
  }

  /** Record `i`: its block and a cursor at its first byte. */
  protected find(i: number): { b: Buffer; cursor: { at: number } } {
    return { b: this.blocks[this.blockOf[i]], cursor: { at: this.startOf[i] } };
  }
}

/** The bytes `texts` take at most, written by writeText. */
export function textBound(texts: readonly (string | null)[]): number {
  let bound = 0;
  for (const t of texts) if (t !== null) bound += 5 + 2 * t.length;
  return bound;
}

/**
 * The rows an import holds from its check until they are written, packed as bytes in 1 MB blocks
 * outside V8's heap: a million rows as objects were ~290 bytes each of heap (the object, its tags
 * array, its strings, the file's chunks their strings were slices of), and V8 let the garbage of
 * the writing grow to about twice the live heap, or more on a loaded machine, before collecting
 * it (peak RSS 0.7–1.3 GB at a million). Packed, a row is its text plus a few bytes, and the heap
 * holds only the batch being written. `slice` turns a range back into ImportRow objects.
 */
export class ImportRowStore extends PackedRecords implements ImportRowSource {
  private passwords = 0;

  /** Rows that have a password (hashed in worker threads as they are written). */
  get withPassword(): number {
    return this.passwords;
  }

  push(row: ImportRow): void {
    const name = row.name === row.nickname ? null : row.name;
    const bio = row.bio === '' ? null : row.bio;
    const tags = row.tags.length === 0 ? null : row.tags.join(' ');
    const texts = [row.nickname, row.email, name, bio, tags, row.password];
    const { b, at: start } = this.room(6 + textBound(texts)); // flags and the line number, then the texts
    if (row.password !== null) this.passwords += 1;
    let at = start;
    b[at++] =
      (row.admin ? ADMIN : 0) |
      (row.moderator ? MODERATOR : 0) |
      (row.confirmed ? CONFIRMED : 0) |
      (name !== null ? NAME : 0) |
      (bio !== null ? BIO : 0) |
      (tags !== null ? TAGS : 0) |
      (row.password !== null ? PASSWORD : 0);
    at = writeVarint(b, at, row.line);
    for (const t of texts) if (t !== null) at = writeText(b, at, t);
    this.wrote(at);
  }

  slice(from: number, to: number): ImportRow[] {
    const end = Math.min(to, this.length);
    const out: ImportRow[] = [];
    for (let i = Math.max(0, from); i < end; i++) out.push(this.at(i));
    return out;
  }

  /** Row `i` (0 ≤ i < length) as an object. */
  at(i: number): ImportRow {
    const { b, cursor } = this.find(i);
    const flags = b[cursor.at++];
    const line = readVarint(b, cursor);
    const nickname = readText(b, cursor);
    const email = readText(b, cursor);
    const name = flags & NAME ? readText(b, cursor) : nickname;
    const bio = flags & BIO ? readText(b, cursor) : '';
    const tags = flags & TAGS ? readText(b, cursor).split(' ') : [];
    const password = flags & PASSWORD ? readText(b, cursor) : null;
    return {
      line,
      nickname,
      email,
      name,
      bio,
      admin: (flags & ADMIN) !== 0,
      moderator: (flags & MODERATOR) !== 0,
      confirmed: (flags & CONFIRMED) !== 0,
      tags,
      password,
    };
  }
}

function grow(a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(a.length * 2);
  bigger.set(a);
  return bigger;
}

export function writeVarint(b: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    b[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  b[at++] = n;
  return at;
}

export function readVarint(b: Buffer, cursor: { at: number }): number {
  let n = 0;
  let scale = 1;
  for (;;) {
    const byte = b[cursor.at++];
    n += (byte & 0x7f) * scale;
    if (byte < 0x80) return n;
    scale *= 0x80;
  }
}

/** A text as its length in bytes (times two, plus one when it is UTF-16) and its bytes. */
export function writeText(b: Buffer, at: number, text: string): number {
  const wide = WIDE.test(text);
  const bytes = wide ? text.length * 2 : text.length;
  at = writeVarint(b, at, bytes * 2 + (wide ? 1 : 0));
  return at + b.write(text, at, bytes, wide ? 'utf16le' : 'latin1');
}

export function readText(b: Buffer, cursor: { at: number }): string {
  const head = readVarint(b, cursor);
  const bytes = Math.floor(head / 2);
  const start = cursor.at;
  cursor.at += bytes;
  return b.toString(head % 2 === 1 ? 'utf16le' : 'latin1', start, start + bytes);
}
