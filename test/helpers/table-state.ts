import { sql, type Kysely } from 'kysely';
import type { Database, TokenKind } from '../../lib/db/schema';
import { listUsers } from '../../lib/user/list';

// What a test reads back from the tables to check what a verb did (and did not) change.

/** Row counts per table, for "nothing else changed" assertions. */
export async function tableCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, number>>`
    SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM activities) AS activities,
           (SELECT count(*)::int FROM follows) AS follows, (SELECT count(*)::int FROM tokens) AS tokens,
           (SELECT count(*)::int FROM audit_log) AS audit`.execute(db);
  return rows[0];
}

/** Every row of every table (activities and audit rows counted), to prove a dry run or a refusal changed nothing. */
export async function tableSnapshot(db: Kysely<Database>): Promise<unknown> {
  const { rows } = await sql<{ s: unknown }>`
    SELECT json_build_object(
      'users', (SELECT json_agg(u ORDER BY id) FROM users u), 'activities', (SELECT count(*) FROM activities),
      'follows', (SELECT json_agg(f ORDER BY id) FROM follows f), 'tokens', (SELECT json_agg(t ORDER BY id) FROM tokens t),
      'audit', (SELECT count(*) FROM audit_log)) AS s`.execute(db);
  return rows[0].s;
}

export const userRow = (db: Kysely<Database>, nickname: string) => db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirst();

/** The audit columns a runbook reads, oldest first. */
export const auditTrail = (db: Kysely<Database>) =>
  db.selectFrom('audit_log').select(['verb', 'actor', 'target_nickname', 'reason', 'details']).orderBy('id').execute();

/** Nicknames `listUsers` shows (local and remote, not deleted), in its order. */
export async function listedNicknames(db: Kysely<Database>): Promise<string[]> {
  const all: string[] = [];
  for await (const page of listUsers(db, { local: null })) all.push(...page.map((u) => u.nickname));
  return all;
}

/** How many of the user's tokens are not revoked (expired ones count: expiry is not revocation). */
export async function liveTokenCount(db: Kysely<Database>, userId: number): Promise<number> {
  const rows = await db.selectFrom('tokens').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  return rows.length;
}

/** The kinds of the user's tokens that are not revoked, sorted, one entry per token. */
export async function liveTokenKinds(db: Kysely<Database>, userId: number): Promise<string[]> {
  const rows = await db.selectFrom('tokens').select('kind').where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('kind').execute();
  return rows.map((r) => r.kind);
}

/** Every follow as `follower>following` by nickname, sorted. */
export async function followPairs(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ pair: string }>`
    SELECT a.nickname || '>' || b.nickname AS pair FROM follows f
    JOIN users a ON a.id = f.follower_id JOIN users b ON b.id = f.following_id ORDER BY 1`.execute(db);
  return rows.map((r) => r.pair);
}

/** The user's tokens of one kind, oldest first. */
export function tokenRows(db: Kysely<Database>, userId: number, kind: TokenKind) {
  return db.selectFrom('tokens').selectAll().where('user_id', '=', userId).where('kind', '=', kind).orderBy('id').execute();
}
