import { libContext, TEST_SETTINGS, useOpenTestDatabase } from '../helpers/backend';
import type { DbHandle } from '../../lib/db/db';
import { assertAvailable, createUser, planNewUser } from '../../lib/user/new';
import { findUser, requireLocalUser } from '../../lib/user/find';
import { listUsers } from '../../lib/user/list';
import { showUser } from '../../lib/user/show';
import { listAudit } from '../../lib/audit/audit';
import { hashToken } from '../../lib/tokens/secrets';
import { ConflictError, NotFoundError, UsageError } from '../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}

describe('planNewUser', () => {
  test('defaults the name to the nickname and confirms admin-made accounts', () => {
    const plan = planNewUser({ nickname: 'alice', email: 'alice@example.com' });
    expect(plan).toEqual({ nickname: 'alice', email: 'alice@example.com', name: 'alice', bio: '', password: null, admin: false, moderator: false, confirmed: true });
  });

  test('takes the nickname from the email local part when none is given', () => {
    expect(planNewUser({ email: 'bob.smith@example.com' }).nickname).toBe('bob.smith');
  });

  test.each([
    ['bad email', { nickname: 'alice', email: 'not-an-email' }, /invalid email/],
    ['nickname with a space', { nickname: 'al ice', email: 'a@example.com' }, /invalid nickname/],
    ['nickname too long', { nickname: 'a'.repeat(65), email: 'a@example.com' }, /invalid nickname/],
    ['remote-looking nickname', { nickname: 'a@b.example', email: 'a@example.com' }, /invalid nickname/],
    ['short password', { nickname: 'alice', email: 'a@example.com', password: 'short' }, /too short/],
    ['NUL in the name', { nickname: 'alice', email: 'a@example.com', name: 'a\0b' }, /NUL/],
    ['unusable local part', { email: 'a+b@example.com' }, /pass it explicitly/],
  ])('%s is a usage error', (_label, input, message) => {
    expect(() => planNewUser(input)).toThrow(UsageError);
    expect(() => planNewUser(input)).toThrow(message);
  });
});

describe('createUser', () => {
  test('stores the user, a bcrypt hash, and an audit row; no reset token when a password is given', async () => {
    const ctx = libContext(h, { actor: 'root', reason: 'onboarding' });
    const created = await createUser(ctx, planNewUser({ nickname: 'alice', email: 'Alice@Example.com', password: 's3cret-pass', admin: true }), TEST_SETTINGS);
    expect(created.passwordReset).toBeNull();
    expect(created.user).toMatchObject({ nickname: 'alice', email: 'Alice@Example.com', admin: true, confirmed: true, active: true, deleted: false, tags: [] });
    const row = await h.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$2[aby]\$04\$/);
    expect(await h.db.selectFrom('tokens').selectAll().execute()).toEqual([]);
    const audit = await listAudit(h.db);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'root', verb: 'new', targetNickname: 'alice', reason: 'onboarding', targetUserId: row.id });
    expect(JSON.stringify(audit[0].details)).not.toContain('s3cret');
  });

  test('without a password: no hash at all, and a single-use reset token stored only as its hash', async () => {
    const created = await createUser(libContext(h), planNewUser({ nickname: 'bob', email: 'bob@example.com' }), TEST_SETTINGS);
    expect(created.passwordReset).not.toBeNull();
    const { token, url } = created.passwordReset!;
    expect(url).toBe(`http://ctl.test/password_reset/${token}`);
    const row = await h.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow();
    expect(row.password_hash).toBeNull();
    const tokens = await h.db.selectFrom('tokens').selectAll().execute();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ kind: 'password_reset', token_hash: hashToken(token) });
    expect(JSON.stringify(tokens)).not.toContain(token);
  });

  test('a nickname or email taken case-insensitively is a conflict naming which', async () => {
    await createUser(libContext(h), planNewUser({ nickname: 'alice', email: 'alice@example.com' }), TEST_SETTINGS);
    await expect(createUser(libContext(h), planNewUser({ nickname: 'ALICE', email: 'other@example.com' }), TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('nickname ALICE is already taken'),
    );
    await expect(assertAvailable(h.db, 'carol', 'ALICE@EXAMPLE.COM')).rejects.toThrow('email ALICE@EXAMPLE.COM is already taken');
    expect(await h.db.selectFrom('users').select('id').execute()).toHaveLength(1);
    expect((await listAudit(h.db)).map((a) => a.verb)).toEqual(['new']);
  });

  test('the unique index decides a race that the pre-check cannot see', async () => {
    const plan = planNewUser({ nickname: 'racer', email: 'racer@example.com' });
    const results = await Promise.allSettled([createUser(libContext(h), plan, TEST_SETTINGS), createUser(libContext(h), plan, TEST_SETTINGS)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConflictError);
  });
});

describe('findUser', () => {
  beforeEach(async () => {
    await createUser(libContext(h), planNewUser({ nickname: 'alice', email: 'bob@example.com' }), TEST_SETTINGS);
    await createUser(libContext(h), planNewUser({ nickname: 'bob', email: 'robert@example.com' }), TEST_SETTINGS);
    await h.db.insertInto('users').values({ nickname: 'carol@remote.example', email: null, name: 'carol', local: false }).execute();
  });

  test('resolves a nickname or an email, case-insensitively', async () => {
    expect((await findUser(h.db, 'ALICE'))?.nickname).toBe('alice');
    expect((await findUser(h.db, 'Robert@Example.com'))?.nickname).toBe('bob');
  });

  test('a nickname match wins over an email match', async () => {
    expect((await findUser(h.db, 'bob'))?.nickname).toBe('bob');
  });

  test('local-only lookups say "No local user X" for remote accounts', async () => {
    expect((await findUser(h.db, 'carol@remote.example'))?.local).toBe(false);
    await expect(requireLocalUser(h.db, 'carol@remote.example')).rejects.toThrow(new NotFoundError('No local user carol@remote.example'));
  });

  test('soft-deleted accounts are hidden unless asked for', async () => {
    await h.db.updateTable('users').set({ deleted_at: new Date() }).where('nickname', '=', 'alice').execute();
    expect(await findUser(h.db, 'alice')).toBeUndefined();
    expect((await findUser(h.db, 'alice', { includeDeleted: true }))?.nickname).toBe('alice');
  });
});

describe('listUsers', () => {
  beforeEach(async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({
      nickname: `user${String(i).padStart(2, '0')}`,
      email: `user${i}@example.com`,
      name: i === 3 ? 'Jane 100%_Doe' : `User ${i}`,
      admin: i % 10 === 0,
      moderator: i === 5,
      active: i !== 7,
      confirmed: i % 2 === 0,
      tags: i < 3 ? ['vip'] : [],
    }));
    await h.db.insertInto('users').values(rows).execute();
    await h.db.insertInto('users').values({ nickname: 'far@remote.example', name: 'far', local: false }).execute();
    await h.db.updateTable('users').set({ deleted_at: new Date() }).where('nickname', '=', 'user24').execute();
  });

  test('pages by keyset in id order and sees every row exactly once', async () => {
    const pages: number[] = [];
    const all: string[] = [];
    for await (const page of listUsers(h.db, {}, 7)) {
      pages.push(page.length);
      all.push(...page.map((u) => u.nickname));
    }
    expect(pages).toEqual([7, 7, 7, 3]);
    expect(all).toEqual(Array.from({ length: 24 }, (_, i) => `user${String(i).padStart(2, '0')}`));
  });

  test.each([
    [{ admin: true }, ['user00', 'user10', 'user20']],
    [{ moderator: true }, ['user05']],
    [{ active: false }, ['user07']],
    [{ tag: 'VIP' }, ['user00', 'user01', 'user02']],
    [{ local: false }, ['far@remote.example']],
    [{ deleted: true }, ['user24']],
    [{ search: '100%_' }, ['user03']],
    [{ confirmed: false, admin: false, limit: 2 }, ['user01', 'user03']],
  ])('filter %j', async (filter, expected) => {
    expect((await collect(listUsers(h.db, filter, 2))).map((u) => u.nickname)).toEqual(expected);
  });
});

describe('showUser', () => {
  test('counts what the user owns and their live sessions', async () => {
    const { user } = await createUser(libContext(h), planNewUser({ nickname: 'alice', email: 'alice@example.com', password: 'password1' }), TEST_SETTINGS);
    const other = await h.db.insertInto('users').values({ nickname: 'bob', email: 'bob@example.com', name: 'bob' }).returning('id').executeTakeFirstOrThrow();
    await h.db.insertInto('activities').values([{ actor_id: user.id, type: 'Create' }, { actor_id: user.id, type: 'Like' }]).execute();
    await h.db.insertInto('follows').values({ follower_id: other.id, following_id: user.id }).execute();
    const now = new Date();
    await h.db.insertInto('tokens').values([
      { kind: 'access', token_hash: 'a', user_id: user.id },
      { kind: 'access', token_hash: 'b', user_id: user.id, revoked_at: now },
      { kind: 'refresh', token_hash: 'c', user_id: user.id, expires_at: new Date(now.getTime() - 1000) },
    ]).execute();
    const details = await showUser(h.db, 'alice', now);
    expect(details.counts).toEqual({ activities: 2, followers: 1, following: 0, activeSessions: 1, tags: 0 });
    await expect(showUser(h.db, 'nobody', now)).rejects.toThrow(new NotFoundError('No user nobody'));
  });
});
