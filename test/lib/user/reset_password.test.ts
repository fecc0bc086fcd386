import { libContext, TEST_SETTINGS, useOpenTestDatabase } from '../../helpers/backend';
import { createUserWithPassword } from '../../helpers/seed-users';
import { tokenRows as tokenRowsOf } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import type { TokenKind } from '../../../lib/db/schema';
import { createUser, planNewUser } from '../../../lib/user/new';
import { checkPasswordResetToken, createPasswordReset, resetPasswordWithToken, setPassword } from '../../../lib/user/reset_password';
import { confirmEmail } from '../../../lib/tokens/confirmation';
import { issueToken } from '../../../lib/tokens/store';
import { verifyPassword } from '../../../lib/auth/passwords';
import { hashToken } from '../../../lib/tokens/secrets';
import { listAudit } from '../../../lib/audit/audit';
import { ConflictError, NotFoundError, UsageError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const NOW = new Date('2026-03-10T12:00:00Z');
const DAY = 86400e3;
const at = (ms: number) => libContext(h, { now: () => new Date(NOW.getTime() + ms) });
const ctx = () => at(0);
const makeUser = (nickname: string, extra: Record<string, unknown> = {}) => createUserWithPassword(ctx(), nickname, extra);
const passwordHash = async (id: number) =>
  (await h.db.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirstOrThrow()).password_hash;
const tokenRows = (userId: number, kind: TokenKind) => tokenRowsOf(h.db, userId, kind);
async function addSessions(userId: number, n: number) {
  for (let i = 0; i < n; i++) await issueToken(h.db, { kind: i % 2 ? 'refresh' : 'access', userId, now: NOW, ttlMs: DAY });
}

describe('password reset links', () => {
  test('reset_password issues a hashed single-use token valid for the configured TTL, for local users only', async () => {
    const { user } = await makeUser('alice');
    const issued = await createPasswordReset(libContext(h, { now: () => NOW, actor: 'root' }), 'ALICE@example.com', TEST_SETTINGS);
    expect(issued).toMatchObject({
      user: { id: user.id, nickname: 'alice' },
      url: `http://ctl.test/password_reset/${issued.token}`,
      expiresAt: new Date(NOW.getTime() + DAY),
    });
    const rows = await tokenRows(user.id, 'password_reset');
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toBe(hashToken(issued.token));
    const audit = await listAudit(h.db, { verb: 'reset_password' });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(issued.token);

    await h.db.insertInto('users').values({ nickname: 'carol@remote.example', name: 'carol', local: false }).execute();
    await expect(createPasswordReset(ctx(), 'carol@remote.example', TEST_SETTINGS)).rejects.toThrow(new NotFoundError('No local user carol@remote.example'));
    await expect(createPasswordReset(ctx(), 'nobody', TEST_SETTINGS)).rejects.toThrow(new NotFoundError('No local user nobody'));
  });

  test('a link works once: the password changes, sessions and the other reset links are revoked', async () => {
    const { user } = await makeUser('alice');
    await addSessions(user.id, 3);
    const first = await createPasswordReset(ctx(), 'alice', TEST_SETTINGS);
    const second = await createPasswordReset(ctx(), 'alice', TEST_SETTINGS);
    expect(await checkPasswordResetToken(h.db, first.token, NOW)).toEqual({ status: 'valid', nickname: 'alice' });

    const done = await resetPasswordWithToken(at(1000), first.token, 'brand-new-pass', TEST_SETTINGS);
    expect(done).toEqual({ userId: user.id, nickname: 'alice', sessionsRevoked: 3 });
    expect(await verifyPassword('brand-new-pass', await passwordHash(user.id))).toBe(true);
    expect(await verifyPassword('old-password', await passwordHash(user.id))).toBe(false);
    const rows = await tokenRows(user.id, 'password_reset');
    expect(rows.map((r) => [r.used_at !== null, r.revoked_at !== null])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect((await tokenRows(user.id, 'access')).every((r) => r.revoked_at !== null)).toBe(true);

    expect(await checkPasswordResetToken(h.db, first.token, NOW)).toEqual({ status: 'used', nickname: 'alice' });
    expect(await checkPasswordResetToken(h.db, second.token, NOW)).toEqual({ status: 'used', nickname: 'alice' });
    await expect(resetPasswordWithToken(ctx(), first.token, 'another-pass', TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('this password reset link was already used'),
    );
    await expect(resetPasswordWithToken(ctx(), second.token, 'another-pass', TEST_SETTINGS)).rejects.toThrow(ConflictError);
    expect(await verifyPassword('brand-new-pass', await passwordHash(user.id))).toBe(true);
    const audit = (await listAudit(h.db, { verb: 'password_reset' }))[0];
    expect(audit.details).toEqual({ tokenId: rows[0].id, sessionsRevoked: 3 });
    expect(JSON.stringify(await listAudit(h.db))).not.toContain('brand-new-pass');
  });

  test('valid until the TTL has passed, then expired', async () => {
    await makeUser('alice');
    const { token } = await createPasswordReset(ctx(), 'alice', { ...TEST_SETTINGS, passwordResetTtlMs: 3600e3 });
    expect((await checkPasswordResetToken(h.db, token, new Date(NOW.getTime() + 3600e3 - 1))).status).toBe('valid');
    expect((await checkPasswordResetToken(h.db, token, new Date(NOW.getTime() + 3600e3))).status).toBe('expired');
    await expect(resetPasswordWithToken(at(3600e3), token, 'brand-new-pass', TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('this password reset link has expired'),
    );
  });

  test('a bad password is a usage error and leaves the link usable; unknown tokens are exit 3', async () => {
    const { user } = await makeUser('alice');
    const { token } = await createPasswordReset(ctx(), 'alice', TEST_SETTINGS);
    await expect(resetPasswordWithToken(ctx(), token, 'short', TEST_SETTINGS)).rejects.toThrow(UsageError);
    expect((await checkPasswordResetToken(h.db, token, NOW)).status).toBe('valid');
    await expect(resetPasswordWithToken(ctx(), 'A'.repeat(43), 'brand-new-pass', TEST_SETTINGS)).rejects.toThrow(
      new NotFoundError('unknown password reset token'),
    );
    await expect(resetPasswordWithToken(ctx(), 'short', 'brand-new-pass', TEST_SETTINGS)).rejects.toThrow(NotFoundError);
    expect(await checkPasswordResetToken(h.db, '', NOW)).toEqual({ status: 'unknown' });
    expect(await verifyPassword('old-password', await passwordHash(user.id))).toBe(true);
  });

  test('a password reset token is not an email-confirmation token, nor the other way round', async () => {
    const { user } = await makeUser('alice', { confirmed: false });
    const { token } = await createPasswordReset(ctx(), 'alice', TEST_SETTINGS);
    await expect(confirmEmail(ctx(), token)).rejects.toThrow(new NotFoundError('unknown email confirmation token'));
    const confirmation = (await tokenRows(user.id, 'email_confirmation'))[0];
    expect(confirmation).toBeDefined();
    expect(await checkPasswordResetToken(h.db, token, NOW)).toMatchObject({ status: 'valid' });
  });

  test('the link stops working when the account is soft-deleted', async () => {
    const { user } = await makeUser('alice');
    const { token } = await createPasswordReset(ctx(), 'alice', TEST_SETTINGS);
    await h.db.updateTable('users').set({ deleted_at: NOW }).where('id', '=', user.id).execute();
    expect(await checkPasswordResetToken(h.db, token, NOW)).toEqual({ status: 'unknown' });
    await expect(resetPasswordWithToken(ctx(), token, 'brand-new-pass', TEST_SETTINGS)).rejects.toThrow(NotFoundError);
  });

  test('a link issued before the account moved to single sign-on sets no password: exit 4 naming the provider', async () => {
    const { user } = await makeUser('alice');
    const { token } = await createPasswordReset(ctx(), 'alice', TEST_SETTINGS);
    const before = await h.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    await h.db.updateTable('users').set({ provider: 'oidc' }).where('id', '=', user.id).execute();
    await expect(resetPasswordWithToken(ctx(), token, 'brand-new-pass', TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('alice signs in through oidc: change the password there'),
    );
    expect(await h.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow()).toEqual(before);
  });

  test('two uses of one link at the same moment: exactly one wins', async () => {
    const { user } = await makeUser('alice');
    const { token } = await createPasswordReset(ctx(), 'alice', TEST_SETTINGS);
    const results = await Promise.allSettled([
      resetPasswordWithToken(ctx(), token, 'first-password', TEST_SETTINGS),
      resetPasswordWithToken(ctx(), token, 'second-password', TEST_SETTINGS),
    ]);
    const won = results.findIndex((r) => r.status === 'fulfilled');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results[1 - won] as PromiseRejectedResult).reason).toEqual(new ConflictError('this password reset link was already used'));
    expect(await verifyPassword(won === 0 ? 'first-password' : 'second-password', await passwordHash(user.id))).toBe(true);
  });

  test('the set-password link of a user made without a password works once', async () => {
    const created = await createUser(ctx(), planNewUser({ nickname: 'bob', email: 'bob@example.com' }), TEST_SETTINGS);
    expect(await passwordHash(created.user.id)).toBeNull();
    await resetPasswordWithToken(ctx(), created.passwordReset!.token, 'bobs-password', TEST_SETTINGS);
    expect(await verifyPassword('bobs-password', await passwordHash(created.user.id))).toBe(true);
    await expect(resetPasswordWithToken(ctx(), created.passwordReset!.token, 'bobs-password', TEST_SETTINGS)).rejects.toThrow(ConflictError);
  });

  test('an admin setting the password directly revokes sessions and outstanding reset links', async () => {
    const { user } = await makeUser('alice');
    await addSessions(user.id, 2);
    const { token } = await createPasswordReset(ctx(), 'alice', TEST_SETTINGS);
    expect(await setPassword(ctx(), 'alice', 'admin-chosen-pass', TEST_SETTINGS)).toEqual({
      userId: user.id,
      nickname: 'alice',
      sessionsRevoked: 2,
      resetLinksRevoked: 1,
    });
    expect(await verifyPassword('admin-chosen-pass', await passwordHash(user.id))).toBe(true);
    expect((await checkPasswordResetToken(h.db, token, NOW)).status).toBe('used');
    await expect(setPassword(ctx(), 'alice', 'short', TEST_SETTINGS)).rejects.toThrow(UsageError);
    await expect(setPassword(ctx(), 'nobody', 'admin-chosen-pass', TEST_SETTINGS)).rejects.toThrow(new NotFoundError('No local user nobody'));
  });
});
