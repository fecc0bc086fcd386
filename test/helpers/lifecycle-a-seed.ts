import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, TokenKind } from '../../lib/db/schema';

/** Rows for the lifecycle tests (rm, restore, purge, deactivate...), written straight to the tables. */
export interface SeedUser {
  readonly nickname: string;
  readonly email?: string | null;
  readonly local?: boolean;
  readonly admin?: boolean;
  readonly active?: boolean;
  readonly deletedAt?: Date | null;
}

export async function seedUser(db: Kysely<Database>, u: SeedUser): Promise<number> {
  const local = u.local ?? !u.nickname.includes('@');
  const row = await db
    .insertInto('users')
    .values({
      nickname: u.nickname,
      email: u.email === undefined ? (local ? `${u.nickname}@example.com` : null) : u.email,
      name: u.nickname,
      local,
      admin: u.admin ?? false,
      active: u.active ?? true,
      confirmed: true,
      deleted_at: u.deletedAt ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** `n` users in one statement: nicknames `${prefix}1..n`, remote when the suffix has an `@`. */
export async function seedUsers(db: Kysely<Database>, prefix: string, n: number, suffix = '', extra: { readonly deletedAt?: Date; readonly active?: boolean } = {}): Promise<void> {
  await sql`
    INSERT INTO users (nickname, name, local, active, deleted_at)
    SELECT ${prefix} || g || ${suffix}, 'seeded', ${!suffix.includes('@')}, ${extra.active ?? true}, ${extra.deletedAt ?? null}::timestamptz
    FROM generate_series(1, ${n}) g`.execute(db);
}

export async function seedActivities(db: Kysely<Database>, actorId: number, n: number): Promise<void> {
  await sql`INSERT INTO activities (actor_id, type) SELECT ${actorId}, 'Create' FROM generate_series(1, ${n})`.execute(db);
}

export async function seedFollow(db: Kysely<Database>, followerId: number, followingId: number): Promise<void> {
  await db.insertInto('follows').values({ follower_id: followerId, following_id: followingId }).execute();
}

export async function seedToken(db: Kysely<Database>, userId: number, kind: TokenKind, extra: { readonly revokedAt?: Date; readonly expiresAt?: Date } = {}): Promise<number> {
  const row = await db
    .insertInto('tokens')
    .values({ kind, token_hash: randomBytes(16).toString('hex'), user_id: userId, revoked_at: extra.revokedAt ?? null, expires_at: extra.expiresAt ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function idOf(db: Kysely<Database>, nickname: string): Promise<number> {
  return (await db.selectFrom('users').select('id').where('nickname', '=', nickname).executeTakeFirstOrThrow()).id;
}

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
export const auditTrail = (db: Kysely<Database>) => db.selectFrom('audit_log').select(['verb', 'actor', 'target_nickname', 'reason', 'details']).orderBy('id').execute();
