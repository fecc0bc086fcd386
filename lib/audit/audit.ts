// lib/audit owns the audit log: writing a row inside the change's own transaction, and reading the
// log back page by page (`ctl audit list`).
import { sql, type Kysely, type RawBuilder, type SelectQueryBuilder, type Transaction } from 'kysely';
import type { AuditRow, Database } from '../db/schema';
import type { LibContext } from '../lib-context';

export interface AuditEntry {
  readonly verb: string;
  readonly targetUserId?: number | null;
  readonly targetNickname?: string | null;
  /** What changed. Never a password, token or hash: callers pass counts, flags and ids. */
  readonly details?: Record<string, unknown>;
}

/** Writes the audit row inside the caller's transaction, so the row exists exactly when the change does. */
export async function writeAudit(trx: Transaction<Database> | Kysely<Database>, ctx: LibContext, entry: AuditEntry): Promise<void> {
  await trx
    .insertInto('audit_log')
    .values({
      at: ctx.now(),
      actor: ctx.actor,
      verb: entry.verb,
      target_user_id: entry.targetUserId ?? null,
      target_nickname: entry.targetNickname ?? null,
      reason: ctx.reason ?? null,
      details: JSON.stringify(entry.details ?? {}),
    })
    .execute();
}

/**
 * The audit row of a change made by the same statement, as a data-modifying WITH item: the row
 * `entry` describes, its details merged with `counted` (a jsonb object the statement computes from
 * what it changed, e.g. `jsonb_build_object('revokedTokens', n)`), written once per row of `from`
 * (a WITH item of the statement: no row, no audit row). One statement, so the row exists exactly
 * when the change does without a round trip of its own.
 */
export function auditFrom(ctx: LibContext, entry: AuditEntry, from: string, counted: RawBuilder<unknown> = sql`'{}'::jsonb`): RawBuilder<unknown> {
  return sql`INSERT INTO audit_log (at, actor, verb, target_user_id, target_nickname, reason, details)
    SELECT ${ctx.now()}::timestamptz, ${ctx.actor}::text, ${entry.verb}::text, ${entry.targetUserId ?? null}::bigint, ${entry.targetNickname ?? null}::text, ${ctx.reason ?? null}::text,
      ${JSON.stringify(entry.details ?? {})}::jsonb || ${counted}
    FROM ${sql.table(from)}`;
}

/**
 * One audit row per user of a bulk batch, in a single INSERT ... SELECT over two arrays: the
 * statement count stays one per batch however many users it holds, and the parameter count stays
 * constant (a VALUES list would hit PostgreSQL's 65535-parameter limit on large batches).
 */
export async function writeAuditForUsers(
  trx: Transaction<Database> | Kysely<Database>,
  ctx: LibContext,
  verb: string,
  users: readonly { readonly id: number; readonly nickname: string }[],
  details: Record<string, unknown> = {},
): Promise<void> {
  if (users.length === 0) return;
  await auditForUsers(ctx, verb, users, details).execute(trx);
}

/** writeAuditForUsers's INSERT, to go as a WITH item into the statement that makes the change. */
export function auditForUsers(
  ctx: LibContext,
  verb: string,
  users: readonly { readonly id: number; readonly nickname: string }[],
  details: Record<string, unknown> = {},
): RawBuilder<unknown> {
  return sql`
    INSERT INTO audit_log (at, actor, verb, target_user_id, target_nickname, reason, details)
    SELECT ${ctx.now()}, ${ctx.actor}, ${verb}, t.id, t.nickname, ${ctx.reason ?? null}, ${JSON.stringify(details)}::jsonb
    FROM unnest(${users.map((u) => u.id)}::bigint[], ${users.map((u) => u.nickname)}::text[]) AS t(id, nickname)`;
}

/** Which rows a reader wants; `listAudit` and `auditPages` differ only in what `limit` keeps. */
export interface AuditMatch {
  /** Rows about this user: its id (while the account exists) or its nickname (after a purge too). */
  readonly userId?: number;
  readonly nickname?: string;
  readonly verb?: string;
  readonly since?: Date;
}

export interface AuditFilter extends AuditMatch {
  /** Only the oldest `limit` rows. */
  readonly limit?: number;
}

export interface AuditRecord {
  readonly id: number;
  readonly at: Date;
  readonly actor: string;
  readonly verb: string;
  readonly targetUserId: number | null;
  readonly targetNickname: string | null;
  readonly reason: string | null;
  readonly details: unknown;
}

/** AuditRecord's keys in its order: the header of a CSV of no rows (`audit list --format csv`). */
export const AUDIT_RECORD_KEYS = [
  'id',
  'at',
  'actor',
  'verb',
  'targetUserId',
  'targetNickname',
  'reason',
  'details',
] as const satisfies readonly (keyof AuditRecord)[];

export function auditRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    verb: row.verb,
    targetUserId: row.target_user_id,
    targetNickname: row.target_nickname,
    reason: row.reason,
    details: row.details,
  };
}

/**
 * Narrows an audit query to the rows `filter` asks for. Both readers go through it so that
 * `audit list` and the library never disagree on which rows are about a user.
 */
function auditFilter<O>(query: SelectQueryBuilder<Database, 'audit_log', O>, filter: AuditMatch): SelectQueryBuilder<Database, 'audit_log', O> {
  const { userId, nickname } = filter;
  if (userId !== undefined || nickname !== undefined) {
    query = query.where((eb) => {
      const ors = [];
      if (userId !== undefined) ors.push(eb('target_user_id', '=', userId));
      if (nickname !== undefined) ors.push(eb(eb.fn('lower', ['target_nickname']), '=', nickname.toLowerCase()));
      return eb.or(ors);
    });
  }
  if (filter.verb !== undefined) query = query.where('verb', '=', filter.verb);
  if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
  return query;
}

/** Audit rows oldest first, filtered. */
export async function listAudit(db: Kysely<Database>, filter: AuditFilter = {}): Promise<AuditRecord[]> {
  let query = auditFilter(db.selectFrom('audit_log').selectAll().orderBy('id'), filter);
  if (filter.limit !== undefined) query = query.limit(filter.limit);
  return (await query.execute()).map(auditRecord);
}

export interface AuditQuery extends AuditMatch {
  /** Only the newest `limit` rows (still printed oldest first, as `tail` does). */
  readonly limit?: number;
}

export const AUDIT_PAGE_SIZE = 1000;

/**
 * Streams audit rows oldest first, one keyset page at a time, so a long log never sits in memory.
 * With `limit`, the window starts at the `limit`-th newest matching row.
 */
export async function* auditPages(db: Kysely<Database>, filter: AuditQuery = {}, pageSize = AUDIT_PAGE_SIZE): AsyncGenerator<AuditRecord[]> {
  const base = () => auditFilter(db.selectFrom('audit_log'), filter);
  let after = 0;
  let left = filter.limit ?? Infinity;
  if (filter.limit !== undefined) {
    if (filter.limit <= 0) return;
    const start = await base()
      .select('id')
      .orderBy('id', 'desc')
      .offset(filter.limit - 1)
      .limit(1)
      .executeTakeFirst();
    // Fewer matching rows than the limit: all of them.
    after = start ? start.id - 1 : 0;
  }
  while (left > 0) {
    const rows = await base().selectAll().where('id', '>', after).orderBy('id').limit(Math.min(pageSize, left)).execute();
    if (rows.length === 0) return;
    yield rows.map(auditRecord);
    after = rows[rows.length - 1].id;
    left -= rows.length;
    if (rows.length < pageSize) return;
  }
}
