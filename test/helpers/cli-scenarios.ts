import { sql, type Kysely } from 'kysely';
import type { Database } from '../../lib/db/schema';
import { idOf, seedActivities, seedFollow, seedToken, seedUser, seedUsers } from './seed-users';

// The accounts the command-line tests of the verbs start from (seed-users.ts writes single rows,
// table-state.ts reads tables back), and the read-backs only those tests use.

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
  await db
    .insertInto('users')
    .values([
      { nickname: 'admin1', name: 'a', email: null, admin: true, confirmed },
      { nickname: 'mod1', name: 'm', email: null, moderator: true, confirmed },
      { nickname: 'banned', name: 'b', email: null, active: false, confirmed },
      { nickname: 'gone', name: 'g', email: null, deleted_at: new Date(), confirmed },
      { nickname: 'far@remote.example', name: 'f', email: null, local: false, confirmed },
    ])
    .execute();
}

/** What seedBulkConfirmUsers makes that confirm_all and unconfirm_all leave alone, sorted. */
export const LEFT_ALONE_BY_BULK_CONFIRM = ['admin1', 'banned', 'far@remote.example', 'gone', 'mod1'];

/** Nicknames whose confirmation is `confirmed`, sorted. */
export async function nicknamesConfirmed(db: Kysely<Database>, confirmed: boolean): Promise<string[]> {
  return (await db.selectFrom('users').select('nickname').where('confirmed', '=', confirmed).orderBy('nickname').execute()).map((r) => r.nickname);
}

/** Every follow as `follower>following`, oldest first (table-state's followPairs sorts them). */
export async function followPairsInOrder(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ pair: string }>`
    SELECT a.nickname || '>' || b.nickname AS pair FROM follows f
    JOIN users a ON a.id = f.follower_id JOIN users b ON b.id = f.following_id ORDER BY f.id`.execute(db);
  return rows.map((r) => r.pair);
}

/** The kinds of a user's unrevoked tokens, oldest first. */
export async function liveTokenKindsOf(db: Kysely<Database>, nickname: string): Promise<string[]> {
  const rows = await db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .select('tokens.kind')
    .where('users.nickname', '=', nickname)
    .where('tokens.revoked_at', 'is', null)
    .orderBy('tokens.id')
    .execute();
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
