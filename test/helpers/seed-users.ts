import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, NewUserRow, TokenKind } from '../../lib/db/schema';
import type { LibContext } from '../../lib/lib-context';
import { createUser, planNewUser, type CreatedUser } from '../../lib/user/new';
import { TEST_SETTINGS } from './backend';

// Accounts and the rows they own (activities, follows, tokens), seeded for the library and
// end-to-end tests; test/helpers/table-state.ts reads them back.

/** A user row written straight to the table: for tests that need accounts without going through `ctl user new`. */
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
export async function seedUsers(
  db: Kysely<Database>,
  prefix: string,
  n: number,
  suffix = '',
  extra: { readonly deletedAt?: Date; readonly active?: boolean } = {},
): Promise<void> {
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

export async function seedToken(
  db: Kysely<Database>,
  userId: number,
  kind: TokenKind,
  extra: { readonly revokedAt?: Date; readonly expiresAt?: Date } = {},
): Promise<number> {
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

/** Users in one INSERT, nicknames `user0..n` unless given, unconfirmed only if asked, no email unless given. */
export async function seedUserRows(db: Kysely<Database>, ...users: Partial<NewUserRow>[]): Promise<number[]> {
  const rows = await db
    .insertInto('users')
    .values(users.map((u, i) => ({ nickname: `user${i}`, name: u.nickname ?? `user${i}`, email: null, confirmed: true, ...u })))
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** A local user made the way `ctl user new` makes one, with the password `old-password` and `<nickname>@example.com`. */
export function createUserWithPassword(ctx: LibContext, nickname: string, extra: Record<string, unknown> = {}): Promise<CreatedUser> {
  return createUser(ctx, planNewUser({ nickname, email: `${nickname}@example.com`, password: 'old-password', ...extra }), TEST_SETTINGS);
}
