import { hashToken, newTokenBatch } from '../tokens/secrets';
import type { ImportRow } from './plan';
import type { ImportRowSource } from './row-store';

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

/**
 * Encodes an import's batches ahead of time: each row's set-password token, its hash, and every
 * column as one array literal. writeImport encodes the next batch (guessing it the size of the
 * current one, which it is unless the batch size changes) while the server writes the current
 * one, so this work (about a third of the client's time per batch: tokens, SHA-256, quoting) no
 * longer adds to the server's. A guess that missed is encoded again when the batch starts. Only
 * one batch is held, as nine strings: a million rows leave no garbage per row behind to grow the
 * heap (one string per field did: the peak grew past 950 MB at a million).
 */
export class BatchParams {
  private ready: { readonly from: number; readonly to: number; readonly params: BatchParamsOf } | null = null;

  constructor(private readonly rows: ImportRowSource) {}

  /** Encodes rows `from` to `to` for a batch that is likely to come next. */
  prepare(from: number, to: number): void {
    const end = Math.min(to, this.rows.length);
    this.ready = end > from ? { from, to: end, params: this.encode(from, end) } : null;
  }

  /** The parameters of the batch of rows `from` to `to`: the prepared ones if they are those rows, else encoded now. */
  take(from: number, to: number): BatchParamsOf {
    const end = Math.min(to, this.rows.length);
    const ready = this.ready;
    this.ready = null;
    return ready && ready.from === from && ready.to === end ? ready.params : this.encode(from, end);
  }

  private encode(from: number, to: number): BatchParamsOf {
    const part = this.rows.slice(from, to);
    const tokens = newTokens(part.map((r) => r.password === null));
    const list = (element: (r: ImportRow, k: number) => string) => `{${part.map(element).join(',')}}`;
    return {
      nickname: list((r) => quoted(r.nickname)),
      email: list((r) => quoted(r.email)),
      name: list((r) => quoted(r.name)),
      bio: list((r) => quoted(r.bio)),
      admin: list((r) => bool(r.admin)),
      moderator: list((r) => bool(r.moderator)),
      confirmed: list((r) => bool(r.confirmed)),
      tags: list((r) => quoted(r.tags.join(' '))),
      resetHash: list((_, k) => {
        const token = tokens[k];
        return token === null ? 'NULL' : quoted(hashToken(token));
      }),
      tokens,
    };
  }
}
