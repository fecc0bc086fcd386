import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { AuthProvider, Database } from '../db/schema';
import { toUserJson, USER_COLUMNS, type UserJson } from './present';
import { UsageError } from '../errors';
import { copySourceOf, sqlLiteral } from '../db/copy-out';

export interface UserFilter {
  readonly admin?: boolean;
  readonly moderator?: boolean;
  readonly active?: boolean;
  readonly confirmed?: boolean;
  /** true: local only (the default), false: remote only, null: both. */
  readonly local?: boolean | null;
  readonly tag?: string;
  /** true: only soft-deleted accounts; otherwise they are hidden. */
  readonly deleted?: boolean;
  /** Case-insensitive substring of nickname, email or name. */
  readonly search?: string;
  /** Keyset paging: only users with an id above this one (the console's next page). */
  readonly after?: number;
  /** How the accounts sign in: 'local' (a password here) or an identity provider. */
  readonly provider?: AuthProvider;
  readonly limit?: number;
}

/**
 * Rows per keyset query. Smaller pages keep less alive while a page is written out, so less of it
 * reaches V8's old generation: listing a million users peaked near 100-115 MB with 500 and
 * 250, 110-140 MB with 1000, 155 MB with 2000, in the same time (the round trips are not what
 * costs; one more per 500 users is still little over a network).
 */
export const LIST_PAGE_SIZE = 500;

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The users a filter selects, as a query on `users` that callers give their columns and order. */
function selectUsers(db: Kysely<Database>, filter: UserFilter) {
  // PostgreSQL cannot compare with a NUL byte (it would be an internal error, exit 1).
  if (filter.search?.includes('\0') || filter.tag?.includes('\0'))
    throw new UsageError(`the ${filter.search?.includes('\0') ? 'search text' : 'tag'} contains a NUL byte`);
  let query = db.selectFrom('users');
  const local = filter.local === undefined ? true : filter.local;
  if (local !== null) query = query.where('local', '=', local);
  if (filter.admin !== undefined) query = query.where('admin', '=', filter.admin);
  if (filter.moderator !== undefined) query = query.where('moderator', '=', filter.moderator);
  if (filter.active !== undefined) query = query.where('active', '=', filter.active);
  if (filter.confirmed !== undefined) query = query.where('confirmed', '=', filter.confirmed);
  query = filter.deleted ? query.where('deleted_at', 'is not', null) : query.where('deleted_at', 'is', null);
  if (filter.provider !== undefined) query = query.where('provider', '=', filter.provider);
  if (filter.tag !== undefined) query = query.where(sql<boolean>`tags @> ARRAY[${filter.tag.toLowerCase()}]::text[]`);
  if (filter.search !== undefined && filter.search !== '') {
    const pattern = `%${escapeLike(filter.search)}%`;
    query = query.where((eb) => eb.or([eb('nickname', 'ilike', pattern), eb('email', 'ilike', pattern), eb('name', 'ilike', pattern)]));
  }
  return query;
}

/**
 * Streams matching users in id order, one keyset page at a time, so memory stays flat whatever
 * the number of users (no OFFSET, no full result set in memory).
 */
export async function* listUsers(db: Kysely<Database>, filter: UserFilter = {}, pageSize = LIST_PAGE_SIZE): AsyncGenerator<UserJson[]> {
  const users = selectUsers(db, filter);
  let after = filter.after ?? 0;
  let left = filter.limit ?? Infinity;
  while (left > 0) {
    const rows = await users.select(USER_COLUMNS).where('id', '>', after).orderBy('id').limit(Math.min(pageSize, left)).execute();
    if (rows.length === 0) return;
    const page = rows.map(toUserJson);
    const short = rows.length < pageSize;
    // Only the page stays alive while the caller writes it out: the driver's row objects go at
    // the next minor GC. Kept alive alongside (merely dropping the array is not enough: it stays
    // reachable until later), they outlived it and filled the old generation: a million users
    // took 40 MB more peak memory and a fifth more CPU time.
    rows.length = 0;
    yield page;
    after = page[page.length - 1].id;
    left -= page.length;
    if (short) return;
  }
}

/** Rows per COPY where the database pages (PGlite writes each COPY to memory first). */
export const EXPORT_PAGE_SIZE = 5000;

const UTC_COLUMNS = new Set<string>(['deleted_at', 'created_at', 'updated_at', 'last_login_at']);

/**
 * Matching users in id order as PostgreSQL's COPY text output: one line per user, the columns of
 * USER_COLUMNS (lib/user/present.ts) in their order, tab-separated, `\N` for null. In chunks that
 * may split a line: the server writes the rows and no object is built per row here. On PGlite,
 * one COPY per keyset page.
 */
export async function* exportUsers(db: Kysely<Database>, filter: UserFilter = {}, pageSize = EXPORT_PAGE_SIZE): AsyncGenerator<Uint8Array> {
  const source = copySourceOf(db);
  if (!source) throw new Error('this database handle cannot COPY');
  // USER_COLUMNS in their order, the timestamps as UTC wall time (DateStyle ISO is set LOCAL by
  // the COPY source), so the text reads the same whatever the server's TimeZone.
  const columns = USER_COLUMNS.map((column) => (UTC_COLUMNS.has(column) ? sql.raw(`${column} AT TIME ZONE 'UTC'`).as(column) : column));
  const users = selectUsers(db, filter).select(columns);
  const statement = (after: number, limit: number | null): string => {
    let query = users.where('id', '>', after).orderBy('id');
    if (limit !== null) query = query.limit(limit);
    return inlined(query.compile());
  };
  if (!source.paged) {
    yield* source.copyOut(statement(filter.after ?? 0, filter.limit ?? null));
    return;
  }
  let after = filter.after ?? 0;
  let left = filter.limit ?? Infinity;
  while (left > 0) {
    const size = Math.min(pageSize, left);
    let rows = 0;
    let last: Uint8Array | null = null;
    for await (const chunk of source.copyOut(statement(after, size))) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      // A native search per line rather than a JS step per byte.
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) rows++;
      last = chunk;
      yield chunk;
    }
    if (rows === 0 || last === null) return;
    after = lastId(last);
    left -= rows;
    if (rows < size) return;
  }
}

/** The id (first field) of the last line of a COPY page, which ends with a line break. */
function lastId(chunk: Uint8Array): number {
  let start = chunk.length - 2;
  while (start >= 0 && chunk[start] !== 10) start--;
  let id = 0;
  for (let i = start + 1; chunk[i] !== 9; i++) id = id * 10 + (chunk[i] - 48);
  return id;
}

/** A compiled query with its parameters written in as literals: COPY takes no parameters. */
function inlined(query: CompiledQuery): string {
  return query.sql.replace(/\$(\d+)/g, (_m, n: string) => sqlLiteral(query.parameters[Number(n) - 1]));
}
