import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { CtlError, InterruptedError } from '../errors';
import { checkEmail, checkLocalNickname, checkText, emailKey, LOCAL_NICKNAME, MAX_BIO_LENGTH, nameOrNickname, normalizeTag } from '../validate';
import { checkPassword } from '../auth/passwords';
import { parseFlag, type RawRecord } from './parse';
import { ImportRowStore, type ImportRow } from './row-store';
import { KeyIndex } from './key-index';
import { SettledRows, SettledRowStore } from './settled';
import { quoteInput } from '../text';

export type { ImportRow } from './row-store';

export type { ImportProblem, ImportSettled, ImportSkip, ProblemKind } from './settled';

/** The whole file, checked: rows to create, rows already there, rows that cannot be imported. */
export interface ImportPlan {
  readonly total: number;
  /** Packed outside the heap (see ImportRowStore): `rows.slice(from, to)` gives them as objects. */
  readonly rows: ImportRowStore;
  /** The rows skipped and failed, packed too: read them in input order (`settled.cursor()`). */
  readonly settled: SettledRows;
}

function text(values: Readonly<Record<string, unknown>>, key: string): string | null {
  const v = values[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new CtlError(`${key} must be a string, not ${Array.isArray(v) ? 'an array' : typeof v}`);
}

function flag(values: Readonly<Record<string, unknown>>, key: string, fallback: boolean): boolean {
  return parseFlag(values, key) ?? fallback;
}

/**
 * A CSV cell holding a JSON array (`["x","y"]`), as the README allows: split on commas it became
 * the tags `["x"` and `"y"]`.
 */
function jsonTagArray(text: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CtlError(`tags ${quoteInput(text)} start with '[' but are not a JSON array`);
  }
  if (!Array.isArray(parsed)) throw new CtlError('tags must be a JSON array of strings');
  return parsed;
}

/** Tags: a JSON array (in JSONL, or as JSON text in a CSV cell), or a string of tags separated by spaces, commas or semicolons. */
function tagList(values: Readonly<Record<string, unknown>>): string[] {
  const v = values.tags;
  if (v === undefined || v === null) return [];
  let items: unknown[];
  if (Array.isArray(v)) items = v;
  else if (typeof v === 'string' && v.trim().startsWith('[')) items = jsonTagArray(v);
  else if (typeof v === 'string') items = v.split(/[\s,;]+/).filter((t) => t !== '');
  else throw new CtlError(`tags must be a list or a string, not ${typeof v}`);
  const tags = new Set<string>();
  for (const item of items) {
    if (typeof item !== 'string') throw new CtlError(`tags must be strings, not ${typeof item}`);
    tags.add(normalizeTag(item));
  }
  return [...tags].sort();
}

/** Checks and normalises one record (the same rules as `ctl user new`); throws with the reason. */
export function normalizeRecord(record: RawRecord): ImportRow {
  if (record.error) throw new CtlError(record.error);
  const v = record.values;
  const given = (text(v, 'email') ?? '').trim();
  if (given === '') throw new CtlError('no email');
  const email = checkEmail(given);
  let nickname = (text(v, 'nickname') ?? '').trim();
  if (nickname === '') {
    nickname = email.slice(0, email.indexOf('@'));
    if (!LOCAL_NICKNAME.test(nickname)) throw new CtlError(`no nickname, and none can be taken from ${quoteInput(email)}`);
  }
  checkLocalNickname(nickname);
  const name = text(v, 'name');
  const password = text(v, 'password');
  if (password !== null && password !== '') checkPassword(password);
  return {
    line: record.line,
    nickname,
    email,
    name: nameOrNickname(name, nickname),
    bio: checkText('bio', text(v, 'bio') ?? '', MAX_BIO_LENGTH),
    admin: flag(v, 'admin', false),
    moderator: flag(v, 'moderator', false),
    confirmed: flag(v, 'confirmed', true),
    tags: tagList(v),
    password: password === null || password === '' ? null : password,
  };
}

function guess(record: RawRecord, key: string): string | null {
  const v = record.values[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/**
 * An import's input: records one by one (readRecords), or, cheaper, in arrays as each chunk of
 * the file completes them (readRecordChunks).
 */
export type ImportInput = AsyncIterable<RawRecord | readonly RawRecord[]>;

const interrupted = () => new InterruptedError('interrupted while checking the file; nothing was written');

export interface PlanOptions {
  /** Rows per collision query against the database. */
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
  /** Rows read so far (every 10,000 rows and at the end), then rows checked against the database (each chunk). */
  readonly onProgress?: (phase: 'read' | 'checked', rows: number) => void;
}

/**
 * Reads the whole input and checks every row before anything is written: the format of each
 * field, duplicates inside the file (the later row is the problem), and collisions with the
 * database. A row whose nickname already belongs to an account with the same email is *skipped*
 * (it was imported before, e.g. by an interrupted run); any other collision is a problem.
 */
export async function planImport(db: Kysely<Database>, input: ImportInput, opts: PlanOptions = {}): Promise<ImportPlan> {
  const rows = new ImportRowStore();
  // Duplicates inside the file: each key's row, by hash (the keys themselves stay in the packed rows).
  const nicknames = new KeyIndex((row, key) => rows.at(row).nickname.toLowerCase() === key);
  const emails = new KeyIndex((row, key) => emailKey(rows.at(row).email) === key);
  // Settled rows, packed: the problems found while reading, and what the lookups found (each in input order).
  const problems = new SettledRowStore();
  const collisions = new SettledRowStore();
  const chunk = opts.chunkSize ?? 5000;

  // Collisions with the database, a chunk of rows per query: two index probes joined by UNION.
  // Written as one OR, PostgreSQL 15 reads the whole table instead (measured: 0.4 s against
  // 0.04 s a chunk on a million users). Both keys go in as `ARRAY(SELECT ...)`, which the planner
  // cannot see into: given the nicknames as a plain `ANY($1)` it estimated a match per element
  // and chose a parallel scan of the whole table at 200,000 users (EXPLAIN ANALYZE: 120-145 ms a
  // chunk of 5,000, three processes busy, against 33-45 ms by the index). Each chunk's query is
  // sent as soon as the chunk is read, so the server looks up while the rest of the file is parsed.
  // A chunk's result is looked at as soon as it and those before it are back, while the file is
  // still read: held until the end of the reading, the accounts found (an object each, most of
  // the file on a re-run) grew with the file.
  type Found = { id: number; nickname: string; email: string | null };
  type Lookup = { from: number; to: number; found: Promise<Found[]>; back: Found[] | null };
  const lookups: Lookup[] = []; // in input order, those not looked at yet
  let looked = 0;
  let checked = 0;
  // The keys of the rows read since the last lookup (the rows themselves are packed as read).
  let nicks: string[] = [];
  let mails: string[] = [];
  const lookUp = (to: number) => {
    const size = to - looked;
    const lookup: Lookup = { from: looked, to, found: Promise.resolve([]), back: null };
    lookup.found = sql<Found>`
      SELECT id, nickname, email FROM users WHERE lower(nickname) = ANY(ARRAY(SELECT unnest(${nicks}::text[])))
      UNION
      SELECT id, nickname, email FROM users
       WHERE lower(normalize(email, NFKC)) = ANY(ARRAY(SELECT lower(normalize(m, NFKC)) FROM unnest(${mails}::text[]) AS m))`
      .execute(db)
      .then((r) => {
        // On a pool the chunks may come back in any order: report how many rows are checked.
        checked += size;
        opts.onProgress?.('checked', checked);
        lookup.back = r.rows;
        return r.rows;
      });
    lookup.found.catch(() => undefined); // awaited below; a format error may end the reading first
    lookups.push(lookup);
    looked = to;
    nicks = [];
    mails = [];
  };

  // Rows found in the database, by index (1: not to be created).
  let gone = new Uint8Array(1024);
  let dropped = 0;
  const collide = ({ from, to }: Lookup, found: readonly Found[]) => {
    if (found.length === 0) return;
    if (to > gone.length) {
      const bigger = new Uint8Array(Math.max(to, gone.length * 2));
      bigger.set(gone);
      gone = bigger;
    }
    const byNick = new Map(found.map((u) => [u.nickname.toLowerCase(), u]));
    const byMail = new Map(found.filter((u) => u.email !== null).map((u) => [emailKey(u.email!), u]));
    const part = rows.slice(from, to);
    for (let k = 0; k < part.length; k++) {
      const row = part[k];
      const sameNick = byNick.get(row.nickname.toLowerCase());
      const sameMail = byMail.get(emailKey(row.email));
      if (!sameNick && !sameMail) continue;
      gone[from + k] = 1;
      dropped += 1;
      // UNION returns an account once, so one object under both keys is one account matching both.
      if (sameNick && sameNick === sameMail) {
        collisions.skip({ line: row.line, nickname: sameNick.nickname, email: row.email, id: sameNick.id });
      } else {
        const error = sameNick ? `nickname ${row.nickname} is already taken` : `email ${row.email} is already taken`;
        collisions.fail({ line: row.line, nickname: row.nickname, email: row.email, kind: 'taken', error });
      }
    }
  };
  /** Looks at the results back so far, in order (a failed lookup waits for the end of the reading). */
  const collideReturned = () => {
    while (lookups.length > 0 && lookups[0].back !== null) {
      const lookup = lookups.shift()!;
      collide(lookup, lookup.back!);
    }
  };

  let total = 0;
  for await (const item of input) {
    for (const record of (Array.isArray(item) ? item : [item]) as readonly RawRecord[]) {
      total += 1;
      if (total % 10000 === 0) {
        if (opts.signal?.aborted) throw interrupted();
        opts.onProgress?.('read', total);
      }
      let row: ImportRow;
      try {
        row = normalizeRecord(record);
      } catch (error) {
        if (!(error instanceof CtlError)) throw error;
        problems.fail({ line: record.line, nickname: guess(record, 'nickname'), email: guess(record, 'email'), kind: 'invalid', error: error.message });
        continue;
      }
      const nick = row.nickname.toLowerCase();
      const mail = emailKey(row.email);
      const sameNick = nicknames.find(nick);
      const sameMail = sameNick === -1 ? emails.find(mail) : -1;
      if (sameNick !== -1 || sameMail !== -1) {
        const error =
          sameNick !== -1
            ? `nickname ${row.nickname} is also on line ${rows.at(sameNick).line}`
            : `email ${row.email} is also on line ${rows.at(sameMail).line}`;
        problems.fail({ line: row.line, nickname: row.nickname, email: row.email, kind: 'duplicate', error });
        continue;
      }
      nicknames.add(nick, rows.length);
      emails.add(mail, rows.length);
      rows.push(row);
      nicks.push(nick);
      mails.push(row.email);
      if (rows.length - looked >= chunk) {
        lookUp(rows.length);
        collideReturned();
      }
    }
  }
  opts.onProgress?.('read', total);
  if (looked < rows.length) lookUp(rows.length);

  while (lookups.length > 0) {
    const lookup = lookups.shift()!;
    const found = await lookup.found;
    if (opts.signal?.aborted) throw interrupted();
    collide(lookup, found);
  }
  const settled = new SettledRows(problems, collisions);
  if (dropped === 0) return { total, rows, settled };
  const kept = new ImportRowStore();
  for (let from = 0; from < rows.length; from += chunk) rows.slice(from, from + chunk).forEach((row, k) => gone[from + k] !== 1 && kept.push(row));
  return { total, rows: kept, settled };
}
