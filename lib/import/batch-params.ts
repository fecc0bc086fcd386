import { hashToken, newTokenBatch } from '../tokens/secrets';
import type { ImportRow } from './plan';

/**
 * Fresh set-password tokens where `wanted` is true (null elsewhere), from the one generator
 * (lib/tokens/secrets: 256 random bits, never a leading '-'), one randomBytes call per call.
 */
export function newTokens(wanted: readonly boolean[]): (string | null)[] {
  const fresh = newTokenBatch(wanted.filter(Boolean).length);
  let k = 0;
  return wanted.map((w) => (w ? fresh[k++] : null));
}

/** A text as an element of a PostgreSQL array literal: quoted, `\` and `"` escaped (as the pg driver writes it). */
function quoted(text: string): string {
  return text.includes('\\') || text.includes('"') ? `"${text.replace(/[\\"]/g, '\\$&')}"` : `"${text}"`;
}

const bool = (b: boolean): string => (b ? 't' : 'f');

/** The columns of a batch that do not wait for bcrypt, each as one array literal (`{"a","b"}`), in the order of write.ts's unnest. */
export interface BatchParamsOf {
  readonly nickname: string;
  readonly email: string;
  readonly name: string;
  readonly bio: string;
  readonly admin: string;
  readonly moderator: string;
  readonly confirmed: string;
  /** Each row's tags joined by spaces (write.ts splits them again). */
  readonly tags: string;
  /** SHA-256 of each row's set-password token; NULL where the row has a password. */
  readonly resetHash: string;
  /** The tokens themselves, for the links: null where the row has a password. */
  readonly tokens: readonly (string | null)[];
}

const COLUMNS = 9;

/**
 * Encodes an import's rows for its batches ahead of time: each row's set-password token, its hash,
 * and every column as an array-literal element. writeImport asks for the rows after the batch
 * being written while the server writes it, so this work (about a third of the client's time per
 * batch: tokens, SHA-256, quoting) no longer adds to the server's; a batch then only joins its
 * rows' elements. Rows are consumed in order and forgotten once taken, so memory holds a few
 * batches' worth whatever the size of the file.
 */
export class BatchParams {
  /** Index in `rows` of the first row still held. */
  private base = 0;
  private readonly columns: string[][] = Array.from({ length: COLUMNS }, () => []);
  private tokens: (string | null)[] = [];

  constructor(private readonly rows: readonly ImportRow[]) {}

  /** Encodes the rows before index `to` that are not encoded yet. */
  prepare(to: number): void {
    const from = this.base + this.tokens.length;
    const end = Math.min(to, this.rows.length);
    if (end <= from) return;
    const part = this.rows.slice(from, end);
    const fresh = newTokens(part.map((r) => r.password === null));
    const [nickname, email, name, bio, admin, moderator, confirmed, tags, resetHash] = this.columns;
    part.forEach((r, k) => {
      const token = fresh[k];
      this.tokens.push(token);
      nickname.push(quoted(r.nickname));
      email.push(quoted(r.email));
      name.push(quoted(r.name));
      bio.push(quoted(r.bio));
      admin.push(bool(r.admin));
      moderator.push(bool(r.moderator));
      confirmed.push(bool(r.confirmed));
      tags.push(quoted(r.tags.join(' ')));
      resetHash.push(token === null ? 'NULL' : quoted(hashToken(token)));
    });
  }

  /** The parameters of the batch of rows `from` (the first row not taken yet) to `to`, encoding what is not yet. */
  take(from: number, to: number): BatchParamsOf {
    if (from !== this.base) throw new Error(`BatchParams.take: rows are taken in order (expected ${this.base}, got ${from})`);
    this.prepare(to);
    const n = Math.max(0, Math.min(to, this.rows.length) - from);
    const [nickname, email, name, bio, admin, moderator, confirmed, tags, resetHash] = this.columns.map((c) => `{${c.splice(0, n).join(',')}}`);
    const tokens = this.tokens.splice(0, n);
    this.base += n;
    return { nickname, email, name, bio, admin, moderator, confirmed, tags, resetHash, tokens };
  }
}
