import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, NewUserRow, TokenKind } from '../../lib/db/schema';

// Rows written straight to the tables (users, activities, follows, tokens) for the tests of the
// verbs and the lib functions that change them, and read-backs to check what a run changed.

/** One user row; a nickname with an `@` is remote. */
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

/** Users `user0..` with the given columns (no email, confirmed unless said), in one statement. */
export async function seedUserRows(db: Kysely<Database>, ...users: Partial<NewUserRow>[]): Promise<void> {
  await db
    .insertInto('users')
    .values(users.map((u, i) => ({ nickname: `user${i}`, name: u.nickname ?? `user${i}`, email: null, confirmed: true, ...u })))
    .execute();
}

/** admin (the only admin); alice follows and is followed by bob and a remote user; alice has sessions. */
export async function seedFollowsAndSessions(db: Kysely<Database>): Promise<void> {
  await seedUser(db, { nickname: 'admin', admin: true });
  const alice = await seedUser(db, { nickname: 'alice' });
  const bob = await seedUser(db, { nickname: 'bob' });
  const far = await seedUser(db, { nickname: 'far@remote.example' });
  await seedFollow(db, alice, bob);
  await seedFollow(db, bob, alice);
  await seedFollow(db, far, alice);
  await seedFollow(db, alice, far);
  await seedToken(db, alice, 'access');
  await seedToken(db, alice, 'refresh');
  await seedToken(db, alice, 'authorization');
  await seedToken(db, alice, 'password_reset');
  await seedToken(db, bob, 'access');
  await seedActivities(db, alice, 7);
  await seedActivities(db, bob, 2);
}

/** admin (the only admin), alice (5 activities, follows with bob both ways, 3 tokens), bob, a remote user. */
export async function seedAccountsToDelete(db: Kysely<Database>): Promise<void> {
  await seedUser(db, { nickname: 'admin', admin: true });
  const alice = await seedUser(db, { nickname: 'alice' });
  const bob = await seedUser(db, { nickname: 'bob' });
  await seedUser(db, { nickname: 'far@remote.example' });
  await seedActivities(db, alice, 5);
  await seedActivities(db, bob, 2);
  await seedFollow(db, alice, bob);
  await seedFollow(db, bob, alice);
  await seedToken(db, alice, 'access');
  await seedToken(db, alice, 'refresh');
  await seedToken(db, alice, 'password_reset', { revokedAt: new Date('2020-01-01') });
  await seedToken(db, bob, 'access');
}

/** 5 regular users plus one of each kind the bulk confirm verbs must leave alone, all `confirmed` or not. */
export async function seedBulkConfirmUsers(db: Kysely<Database>, confirmed: boolean): Promise<void> {
  await sql`INSERT INTO users (nickname, name, confirmed) SELECT 'u' || g, 'u', ${confirmed} FROM generate_series(1, 5) g`.execute(db);
  await db.insertInto('users').values([
    { nickname: 'admin1', name: 'a', email: null, admin: true, confirmed },
    { nickname: 'mod1', name: 'm', email: null, moderator: true, confirmed },
    { nickname: 'banned', name: 'b', email: null, active: false, confirmed },
    { nickname: 'gone', name: 'g', email: null, deleted_at: new Date(), confirmed },
    { nickname: 'far@remote.example', name: 'f', email: null, local: false, confirmed },
  ]).execute();
}

/** What seedBulkConfirmUsers makes that confirm_all and unconfirm_all leave alone, sorted. */
export const LEFT_ALONE_BY_BULK_CONFIRM = ['admin1', 'banned', 'far@remote.example', 'gone', 'mod1'];

/** Nicknames whose confirmation is `confirmed`, sorted. */
export async function nicknamesConfirmed(db: Kysely<Database>, confirmed: boolean): Promise<string[]> {
  return (await db.selectFrom('users').select('nickname').where('confirmed', '=', confirmed).orderBy('nickname').execute()).map((r) => r.nickname);
}

/** Every follow as `follower>following`, oldest first. */
export async function followPairs(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ pair: string }>`
    SELECT a.nickname || '>' || b.nickname AS pair FROM follows f
    JOIN users a ON a.id = f.follower_id JOIN users b ON b.id = f.following_id ORDER BY f.id`.execute(db);
  return rows.map((r) => r.pair);
}

/** The kinds of a user's unrevoked tokens, oldest first. */
export async function liveTokenKinds(db: Kysely<Database>, nickname: string): Promise<string[]> {
  const rows = await db.selectFrom('tokens').innerJoin('users', 'users.id', 'tokens.user_id').select('tokens.kind').where('users.nickname', '=', nickname).where('tokens.revoked_at', 'is', null).orderBy('tokens.id').execute();
  return rows.map((r) => r.kind);
}

/** Row counts of what a user owns (no audit rows: deleting writes some). */
export async function ownedRowCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, number>>`
    SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM activities) AS activities,
           (SELECT count(*)::int FROM follows) AS follows, (SELECT count(*)::int FROM tokens) AS tokens`.execute(db);
  return rows[0];
}

/** alice, 12 active users of spam.example (s1 follows alice and back), and two look-alike hosts. */
export async function seedSpamInstance(db: Kysely<Database>): Promise<void> {
  const alice = await seedUser(db, { nickname: 'alice' });
  await seedUsers(db, 's', 12, '@spam.example');
  await seedUser(db, { nickname: 'x@spam.example.com' });
  await seedUser(db, { nickname: 'y@sub.spam.example' });
  const s1 = await idOf(db, 's1@spam.example');
  await seedFollow(db, alice, s1);
  await seedFollow(db, s1, alice);
}
