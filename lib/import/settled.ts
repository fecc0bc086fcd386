import { PackedRecords, readText, readVarint, textBound, writeText, writeVarint } from './row-store';

export type ProblemKind = 'invalid' | 'duplicate' | 'taken';

export interface ImportProblem {
  readonly line: number;
  readonly nickname: string | null;
  readonly email: string | null;
  readonly kind: ProblemKind;
  readonly error: string;
}

export interface ImportSkip {
  readonly line: number;
  readonly nickname: string;
  readonly email: string;
  readonly id: number;
}

/** A row the check settled: skipped (its account is already there) or failed (a problem). */
export type ImportSettled = ({ readonly status: 'skipped' } & ImportSkip) | ({ readonly status: 'failed' } & ImportProblem);

// A record's first byte: what it is, and which texts it lacks.
const SKIPPED = 0;
const KINDS: readonly ProblemKind[] = ['invalid', 'duplicate', 'taken'];
const WHAT = 3;
const NO_NICKNAME = 4;
const NO_EMAIL = 8;

/**
 * Settled rows packed as bytes (see PackedRecords), in the order they are added: a re-run of a
 * large file skips most of its rows, and a bad column fails all of them, so they are as many as
 * the rows to create and are kept the same way (a skipped row is its nickname, email and a few
 * bytes), not as an object each until they are reported.
 */
export class SettledRowStore extends PackedRecords {
  private problems = 0;
  private notTaken = 0;

  get skipped(): number {
    return this.length - this.problems;
  }

  get failed(): number {
    return this.problems;
  }

  /** Every problem is a name already taken in the database. */
  get onlyTaken(): boolean {
    return this.notTaken === 0;
  }

  skip(s: ImportSkip): void {
    const { b, at: start } = this.room(1 + 5 + 9 + textBound([s.nickname, s.email]));
    b[start] = SKIPPED;
    let at = writeVarint(b, start + 1, s.line);
    at = writeVarint(b, at, s.id);
    at = writeText(b, at, s.nickname);
    this.wrote(writeText(b, at, s.email));
  }

  fail(p: ImportProblem): void {
    const { b, at: start } = this.room(1 + 5 + textBound([p.nickname, p.email, p.error]));
    this.problems += 1;
    if (p.kind !== 'taken') this.notTaken += 1;
    b[start] = (KINDS.indexOf(p.kind) + 1) | (p.nickname === null ? NO_NICKNAME : 0) | (p.email === null ? NO_EMAIL : 0);
    let at = writeVarint(b, start + 1, p.line);
    if (p.nickname !== null) at = writeText(b, at, p.nickname);
    if (p.email !== null) at = writeText(b, at, p.email);
    this.wrote(writeText(b, at, p.error));
  }

  /** Whether row `i` failed, without unpacking it. */
  failedAt(i: number): boolean {
    const { b, cursor } = this.find(i);
    return (b[cursor.at] & WHAT) !== SKIPPED;
  }

  /** Row `i`'s line, without unpacking the rest. */
  lineAt(i: number): number {
    const { b, cursor } = this.find(i);
    cursor.at += 1;
    return readVarint(b, cursor);
  }

  /** Row `i` (0 ≤ i < length) as an object. */
  at(i: number): ImportSettled {
    const { b, cursor } = this.find(i);
    const flags = b[cursor.at++];
    const line = readVarint(b, cursor);
    if ((flags & WHAT) === SKIPPED) {
      const id = readVarint(b, cursor);
      const nickname = readText(b, cursor);
      return { status: 'skipped', line, nickname, email: readText(b, cursor), id };
    }
    const nickname = flags & NO_NICKNAME ? null : readText(b, cursor);
    const email = flags & NO_EMAIL ? null : readText(b, cursor);
    return { status: 'failed', line, nickname, email, kind: KINDS[(flags & WHAT) - 1], error: readText(b, cursor) };
  }
}

/**
 * The rows an import's check settled, read in input order from the two stores that hold them,
 * each in input order: the problems found while reading (invalid, duplicate in the file) and what
 * the lookups found (skipped, taken). Reading unpacks a row at a time (`cursor`), so whoever reports
 * them holds only the rows it has not passed on yet.
 */
export class SettledRows implements Iterable<ImportSettled> {
  constructor(
    private readonly reading: SettledRowStore,
    private readonly lookups: SettledRowStore,
  ) {}

  get length(): number {
    return this.reading.length + this.lookups.length;
  }

  get skipped(): number {
    return this.reading.skipped + this.lookups.skipped;
  }

  get failed(): number {
    return this.reading.failed + this.lookups.failed;
  }

  get onlyTaken(): boolean {
    return this.reading.onlyTaken && this.lookups.onlyTaken;
  }

  /** A cursor at the first row (of the failed rows only, with `onlyFailed`). */
  cursor(onlyFailed = false): SettledCursor {
    return new SettledCursor(this.reading, this.lookups, onlyFailed);
  }

  *[Symbol.iterator](): Iterator<ImportSettled> {
    const c = this.cursor();
    for (let row = c.next(); row !== null; row = c.next()) yield row;
  }
}

/**
 * Reads SettledRows in input order, a row at a time. The rows of one line (a JSON array written on
 * a single line gives every record the same one) come in the order the check always listed them:
 * the rows the lookups found already there (skipped), then the problems found while reading, then
 * the names the lookups found taken.
 */
export class SettledCursor {
  /** The next of `reading`'s rows. */
  private i = 0;
  /** The first of `lookups`' rows on the line being read, or on the next one. */
  private j = 0;
  /** The line being read (null: none yet), `lookups`' rows on it ([j, end)), and the step within it. */
  private line: number | null = null;
  private end = 0;
  private step: 'skipped' | 'reading' | 'taken' = 'skipped';
  private k = 0;
  /** The row next() returns, found ahead (null: none left). */
  private upcoming: { readonly store: SettledRowStore; readonly index: number } | null;

  constructor(
    private readonly reading: SettledRowStore,
    private readonly lookups: SettledRowStore,
    private readonly onlyFailed: boolean,
  ) {
    this.upcoming = this.find();
  }

  /** The next row's line; Infinity after the last row. */
  get nextLine(): number {
    return this.upcoming ? this.upcoming.store.lineAt(this.upcoming.index) : Infinity;
  }

  /** The next row, unpacked; null after the last. */
  next(): ImportSettled | null {
    const row = this.upcoming;
    if (!row) return null;
    this.upcoming = this.find();
    return row.store.at(row.index);
  }

  /** Where the row after the last one found is. */
  private find(): { store: SettledRowStore; index: number } | null {
    for (;;) {
      if (this.line === null) {
        const a = this.i < this.reading.length ? this.reading.lineAt(this.i) : Infinity;
        const b = this.j < this.lookups.length ? this.lookups.lineAt(this.j) : Infinity;
        if (a === Infinity && b === Infinity) return null;
        this.line = Math.min(a, b);
        this.end = this.j;
        while (this.end < this.lookups.length && this.lookups.lineAt(this.end) === this.line) this.end += 1;
        this.step = 'skipped';
        this.k = this.j;
      }
      if (this.step === 'skipped') {
        while (!this.onlyFailed && this.k < this.end) {
          const index = this.k++;
          if (!this.lookups.failedAt(index)) return { store: this.lookups, index };
        }
        this.step = 'reading';
      }
      if (this.step === 'reading') {
        if (this.i < this.reading.length && this.reading.lineAt(this.i) === this.line) return { store: this.reading, index: this.i++ };
        this.step = 'taken';
        this.k = this.j;
      }
      while (this.k < this.end) {
        const index = this.k++;
        if (this.lookups.failedAt(index)) return { store: this.lookups, index };
      }
      this.j = this.end;
      this.line = null;
    }
  }
}
