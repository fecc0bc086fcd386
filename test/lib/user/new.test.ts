import { libContext, TEST_SETTINGS, useOpenTestDatabase } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import { assertAvailable, createUser, planNewUser } from '../../../lib/user/new';
import { listAudit } from '../../../lib/audit/audit';
import { hashToken } from '../../../lib/tokens/secrets';
import { ConflictError, UsageError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

describe('planNewUser', () => {
  test('defaults the name to the nickname and confirms admin-made accounts', () => {
    const plan = planNewUser({ nickname: 'alice', email: 'alice@example.com' });
    expect(plan).toEqual({
      nickname: 'alice',
      email: 'alice@example.com',
      name: 'alice',
      bio: '',
      password: null,
      admin: false,
      moderator: false,
      confirmed: true,
    });
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
