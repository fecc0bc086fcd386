import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

/**
 * Rate limits kept in the database (table login_limits), so every `ctl serve` on one database
 * enforces one limit, on PostgreSQL and PGlite alike. One row per counted attempt: giving an
 * attempt back, or forgiving the failures before a success, deletes rows by id. Checking and
 * counting happen in one transaction holding a transaction-level advisory lock per key (they work
 * through PgBouncer's transaction pooling too), so attempts running at the same time, in one
 * process or several, cannot all pass the check before any of them is counted.
 *
 * @example
 * const perAddress = new RateLimiter({ name: 'resend-address', limit: 10, windowMs: 3600e3 });
 * const taken = await perAddress.take(db, request.ip, Date.now());
 * if ('wait' in taken) reply 429 with Retry-After taken.wait / 1000;
 */
export interface LimitRule {
  /** Names the rule in the stored key, so two rules never share a count. */
  readonly name: string;
  /** Attempts allowed within the window (with `backoff`: before the back-off starts). */
  readonly limit: number;
  /** How long an attempt stays counted. */
  readonly windowMs: number;
  /**
   * Instead of refusing until the window has passed: past `limit` attempts, each further one
   * waits `baseMs × 2^(n − limit)` after the last (n attempts counted), at most `maxMs`.
   */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

/** A counted attempt: the stored key and the row, to give back or forgive later. */
export interface Slot {
  readonly key: string;
  readonly seq: number;
}

/** The wait in milliseconds when a rule refuses, instead of slots. */
export interface Refusal {
  readonly wait: number;
}

/** One key under one rule, as `takeAll` counts it. */
export interface Want {
  readonly rule: LimitRule;
  readonly key: string;
}

// The two-key form of the advisory locks: its key space is apart from the one-key form the bulk
// verbs lock with (lib/bulk/batches.ts), so a hash can never meet one of theirs.
const LOCK_CLASS = 13_001;
// Expired rows are deleted at most this often per process; nothing reads them meanwhile.
const PRUNE_EVERY_MS = 60e3;
let nextPruneAt = 0;

/** The stored key: the rule and a hash of what is counted (no address or typed login is kept). */
export function storedKey(rule: LimitRule, key: string): string {
  return `${rule.name}:${createHash('sha256').update(key).digest('base64url')}`;
}

/** Milliseconds until one more attempt may be counted, given the live attempts' times (oldest first). */
export function waitFor(rule: LimitRule, ats: readonly number[], now: number): number {
  const n = ats.length;
  if (n < rule.limit) return 0;
  if (rule.backoff) {
    const delay = Math.min(rule.backoff.maxMs, rule.backoff.baseMs * 2 ** (n - rule.limit));
    return Math.max(0, ats[n - 1] + delay - now);
  }
  return Math.max(0, ats[n - rule.limit] + rule.windowMs - now);
}

async function liveHits(db: Kysely<Database>, wants: readonly Want[], keys: readonly string[], now: number): Promise<number[][]> {
  const longest = Math.max(...wants.map((w) => w.rule.windowMs));
  const rows = await db
    .selectFrom('login_limits')
    .select(['key', 'at'])
    .where('key', 'in', keys)
    .where('at', '>', new Date(now - longest))
    .orderBy('at')
    .orderBy('id')
    .execute();
  return wants.map((w, i) => rows.filter((r) => r.key === keys[i] && r.at.getTime() > now - w.rule.windowMs).map((r) => r.at.getTime()));
}

/** Each stored key's advisory lock, until the transaction ends, in one sorted order (no deadlock). */
async function lockKeys(trx: Kysely<Database>, keys: readonly string[]): Promise<void> {
  await sql`
    SELECT pg_advisory_xact_lock(${LOCK_CLASS}::int, h)
    FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(${keys}::text[]) AS k ORDER BY h) AS sorted`.execute(trx);
}

/**
 * Holds the key's lock in the caller's transaction until it ends: the caller's own check and count
 * then go in turn with every `take` of the key (a user's TOTP codes, checked under the user row's
 * lock, with the backup codes counted before their compares).
 */
export async function lockKeyIn(trx: Transaction<Database>, rule: LimitRule, key: string): Promise<void> {
  await lockKeys(trx, [storedKey(rule, key)]);
}

/**
 * Checks every key and counts an attempt under each, in one transaction: all are counted (the
 * slots, in the order asked), or none (the longest wait). Takes each key's advisory lock first,
 * in one sorted order, so two instances counting overlapping keys cannot deadlock.
 */
export async function takeAll(db: Kysely<Database>, wants: readonly Want[], now: number): Promise<Slot[] | Refusal> {
  if (wants.length === 0) return [];
  const keys = wants.map((w) => storedKey(w.rule, w.key));
  if (now >= nextPruneAt) {
    nextPruneAt = now + PRUNE_EVERY_MS;
    // Outside the counting transaction, so its row locks never wait behind a prune.
    await db.deleteFrom('login_limits').where('expires_at', '<=', new Date(now)).execute();
  }
  return db.transaction().execute(async (trx) => {
    await lockKeys(trx, keys);
    const hits = await liveHits(trx, wants, keys, now);
    const wait = Math.max(...wants.map((w, i) => waitFor(w.rule, hits[i], now)));
    if (wait > 0) return { wait };
    const at = new Date(now);
    const inserted = await trx
      .insertInto('login_limits')
      .values(wants.map((w, i) => ({ key: keys[i], at, expires_at: new Date(now + w.rule.windowMs) })))
      .returning(['id', 'key'])
      .execute();
    // RETURNING gives the rows in the order of VALUES.
    return inserted.map((row) => ({ key: row.key, seq: row.id }));
  });
}

/** Takes back attempts that turned out not to be failures. */
export async function releaseAll(db: Kysely<Database>, slots: readonly Slot[]): Promise<void> {
  if (slots.length === 0) return;
  await db
    .deleteFrom('login_limits')
    .where(
      'id',
      'in',
      slots.map((s) => s.seq),
    )
    .execute();
}

/**
 * Forgets each slot and the attempts counted under its key before it; those counted after it
 * (attempts still running beside it) stay. Ids of one key grow in commit order: its inserts are
 * serialised by the key's lock.
 */
export async function forgiveUpTo(db: Kysely<Database>, slots: readonly Slot[]): Promise<void> {
  if (slots.length === 0) return;
  await db
    .deleteFrom('login_limits')
    .where((eb) => eb.or(slots.map((s) => eb.and([eb('key', '=', s.key), eb('id', '<=', s.seq)]))))
    .execute();
}

/** How many attempts are counted under the key now. */
export async function countOf(db: Kysely<Database>, rule: LimitRule, key: string, now: number): Promise<number> {
  const [hits] = await liveHits(db, [{ rule, key }], [storedKey(rule, key)], now);
  return hits.length;
}

/**
 * Counts one attempt under the key inside the caller's transaction, with no lock of its own: for
 * a caller that holds the key's lock already (lockKeyIn).
 */
export async function countIn(trx: Transaction<Database>, rule: LimitRule, key: string, now: number): Promise<void> {
  await trx
    .insertInto('login_limits')
    .values({ key: storedKey(rule, key), at: new Date(now), expires_at: new Date(now + rule.windowMs) })
    .execute();
}

/** Counts one attempt under the key and forgets the earlier ones: a "seen here lately" mark. */
export async function mark(db: Kysely<Database>, rule: LimitRule, key: string, now: number): Promise<void> {
  const stored = storedKey(rule, key);
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('login_limits').where('key', '=', stored).execute();
    await trx
      .insertInto('login_limits')
      .values({ key: stored, at: new Date(now), expires_at: new Date(now + rule.windowMs) })
      .execute();
  });
}

/**
 * One rule over many keys, with the interface of the old in-memory limiter plus the database:
 * `take` checks and counts in one step (the slot, or the wait when at the limit).
 */
export class RateLimiter {
  readonly rule: LimitRule;

  constructor(rule: LimitRule) {
    this.rule = rule;
  }

  get limit(): number {
    return this.rule.limit;
  }

  get windowMs(): number {
    return this.rule.windowMs;
  }

  async take(db: Kysely<Database>, key: string, now: number): Promise<Slot | Refusal> {
    const taken = await takeAll(db, [{ rule: this.rule, key }], now);
    return 'wait' in taken ? taken : taken[0];
  }

  /** Milliseconds until the key may act again, or 0 when it may act now (reads only). */
  async retryAfter(db: Kysely<Database>, key: string, now: number): Promise<number> {
    const [hits] = await liveHits(db, [{ rule: this.rule, key }], [storedKey(this.rule, key)], now);
    return waitFor(this.rule, hits, now);
  }

  release(db: Kysely<Database>, slot: Slot): Promise<void> {
    return releaseAll(db, [slot]);
  }

  forgiveUpTo(db: Kysely<Database>, slot: Slot): Promise<void> {
    return forgiveUpTo(db, [slot]);
  }

  async clear(db: Kysely<Database>, key: string): Promise<void> {
    await db.deleteFrom('login_limits').where('key', '=', storedKey(this.rule, key)).execute();
  }
}
