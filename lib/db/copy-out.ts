import type { Kysely } from 'kysely';
import type { Pool } from 'pg';
import type { PGliteInterface } from '@electric-sql/pglite';
import type { Database } from './schema';

/**
 * `COPY (query) TO STDOUT` in PostgreSQL's text format, for exports that must run at the speed of
 * the server's own output (`ctl user list`). Kysely has no COPY, so db.ts registers, for every
 * Kysely it makes, how to reach the driver under it: a server streams through pg-copy-streams, one
 * socket chunk at a time (./copy-to-stream.ts); PGlite writes COPY to a blob in memory, so a
 * caller pages its query (`paged: true`) to keep memory bounded.
 *
 * The query runs in a transaction with `SET LOCAL DateStyle = ISO` so timestamps read the same
 * whatever the server's settings (LOCAL: nothing leaks into a pooled connection, PgBouncer's
 * transaction pooling included). COPY takes no bind parameters: the caller inlines its literals
 * with `sqlLiteral`.
 */
export interface CopySource {
  readonly paged: boolean;
  copyOut(query: string): AsyncIterable<Uint8Array>;
}

const sources = new WeakMap<Kysely<Database>, CopySource>();

export function copySourceOf(db: Kysely<Database>): CopySource | null {
  return sources.get(db) ?? null;
}

const SETUP = `SET LOCAL DateStyle = 'ISO, YMD'`;

export function registerServerCopy(db: Kysely<Database>, pool: Pool): void {
  sources.set(db, {
    paged: false,
    async *copyOut(query) {
      // pg-copy-streams loads only for an export: ~10 ms no other verb needs.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { copyTo } = require('./copy-to-stream') as typeof import('./copy-to-stream');
      const client = await pool.connect();
      let finished = false;
      try {
        await client.query('BEGIN');
        await client.query(SETUP);
        const stream = client.query(copyTo(`COPY (${query}) TO STDOUT`));
        for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
        await client.query('COMMIT');
        finished = true;
      } finally {
        // A failure, or a consumer that stopped early (a closed pipe), leaves the connection
        // mid-statement: it is discarded rather than returned to the pool.
        client.release(finished ? undefined : true);
      }
    },
  });
}

export function registerPgliteCopy(db: Kysely<Database>, pglite: PGliteInterface): void {
  sources.set(db, {
    paged: true,
    async *copyOut(query) {
      const blob = await pglite.transaction(async (tx) => {
        await tx.exec(SETUP);
        const [result] = await tx.exec(`COPY (${query}) TO '/dev/blob'`);
        return result?.blob ?? null;
      });
      if (blob) yield new Uint8Array(await blob.arrayBuffer());
    },
  });
}

/** A string, number or boolean as an SQL literal, for statements that take no parameters. */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') {
    // standard_conforming_strings is on (the default since 9.1, and ctl's migrations assume it):
    // inside '…' only the quote is special. A NUL byte cannot be stored or compared at all.
    if (value.includes('\0')) throw new Error('a NUL byte cannot be an SQL literal');
    return `'${value.replace(/'/g, "''")}'`;
  }
  if (Array.isArray(value)) return `ARRAY[${value.map(sqlLiteral).join(',')}]::text[]`;
  throw new Error(`no SQL literal for ${typeof value}`);
}
