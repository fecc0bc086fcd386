import { BACKEND, libContext, TEST_SETTINGS, type TestDatabase, useOpenTestDatabase } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import {
  checkInvite,
  createInvite,
  inviteType,
  inviteTypeLabel,
  listInvites,
  parseMaxUse,
  planInvite,
  redeemInvite,
  resolveInviteExpiry,
  revokeInvite,
} from '../../../lib/invites/invites';
import { confirmEmail } from '../../../lib/tokens/confirmation';
import { verifyPassword } from '../../../lib/auth/passwords';
import { hashToken } from '../../../lib/tokens/secrets';
import { listAudit } from '../../../lib/audit/audit';
import { ConflictError, NotFoundError, UsageError } from '../../../lib/errors';

let tdb: TestDatabase;
let h: DbHandle;
useOpenTestDatabase((d, handle) => {
  tdb = d;
  h = handle;
});

const NOW = new Date('2026-03-10T12:00:00Z');
const at = (iso: string) => libContext(h, { now: () => new Date(iso) });
const ctx = () => at(NOW.toISOString());
const invite = (input: Parameters<typeof createInvite>[1] = {}, c = ctx()) => createInvite(c, input, TEST_SETTINGS);
const newUser = (nickname: string, extra: Record<string, unknown> = {}) => ({
  nickname,
  email: `${nickname}@example.com`,
  password: 'correct-horse',
  ...extra,
});
const inviteRow = async (id: number) => h.db.selectFrom('invites').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const userCount = async () => (await h.db.selectFrom('users').select('id').execute()).length;

describe('invite types and options', () => {
  test.each([
    [null, null, 'one_time', 'one time'],
    ['2026-04-01', null, 'date_limited', 'date limited'],
    [null, 5, 'reusable', 'reusable'],
    ['2026-04-01', 5, 'reusable_date_limited', 'reusable date limited'],
  ] as const)('expires %s, max use %s: %s', (expiresAt, maxUse, type, label) => {
    expect(inviteType(expiresAt, maxUse)).toBe(type);
    expect(inviteTypeLabel(type)).toBe(label);
    expect(planInvite({ expiresAt, maxUse }, NOW).type).toBe(type);
  });

  test('the expiry day may be today (UTC) but not yesterday, and must exist', () => {
    expect(planInvite({ expiresAt: '2026-03-10' }, NOW).expiresAt).toBe('2026-03-10');
    expect(() => planInvite({ expiresAt: '2026-03-09' }, NOW)).toThrow(
      new UsageError('--expires-at 2026-03-09 is in the past: the last day an invite works cannot be before today (2026-03-10, UTC)'),
    );
    expect(() => planInvite({ expiresAt: '2026-02-30' }, NOW)).toThrow(new UsageError('invalid date "2026-02-30" for --expires-at: expected YYYY-MM-DD'));
    expect(() => planInvite({ expiresAt: '10/03/2026' }, NOW)).toThrow(UsageError);
  });

  test('--expires-at takes a timestamp (its UTC day), --expires-in a duration from now', () => {
    expect(resolveInviteExpiry({ expiresAt: '2026-03-12T23:30:00-02:00' }, NOW)).toBe('2026-03-13');
    expect(resolveInviteExpiry({ expiresAt: '2026-03-12T08:00' }, NOW)).toBe('2026-03-12');
    expect(resolveInviteExpiry({ expiresIn: '7d' }, NOW)).toBe('2026-03-17');
    expect(resolveInviteExpiry({ expiresIn: '12h' }, NOW)).toBe('2026-03-11');
    expect(resolveInviteExpiry({ expiresIn: '2w' }, NOW)).toBe('2026-03-24');
    expect(resolveInviteExpiry({}, NOW)).toBeNull();
    expect(() => resolveInviteExpiry({ expiresAt: '2026-03-10T11:00:00Z' }, NOW)).toThrow('--expires-at 2026-03-10T11:00:00Z is in the past');
    expect(() => resolveInviteExpiry({ expiresIn: 'soon' }, NOW)).toThrow('invalid duration "soon" for --expires-in: expected a duration like 7d, 12h or 2w');
    expect(() => resolveInviteExpiry({ expiresIn: '0d' }, NOW)).toThrow(UsageError);
    expect(() => resolveInviteExpiry({ expiresAt: '2026-04-01', expiresIn: '7d' }, NOW)).toThrow('give --expires-at or --expires-in, not both');
  });

  test.each([[0], [-1], ['abc'], ['1.5'], [2.5], [''], ['2147483648']])('max use %j is a usage error', (value) => {
    expect(() => parseMaxUse(value)).toThrow(UsageError);
    expect(() => parseMaxUse(value)).toThrow(`invalid --max-use ${JSON.stringify(value)}: expected a whole number from 1 to 2147483647`);
  });

  test('max use from text or number', () => {
    expect(parseMaxUse('5')).toBe(5);
    expect(parseMaxUse(1)).toBe(1);
    expect(parseMaxUse(null)).toBeNull();
  });

  test('a name needs an email, and the email must be valid', () => {
    expect(() => planInvite({ name: 'Jane' }, NOW)).toThrow('a name goes with an email: give --email too');
    expect(() => planInvite({ email: 'nope' }, NOW)).toThrow('invalid email "nope"');
  });
});

describe('createInvite', () => {
  test('stores only the hash and a short prefix; returns the token and its registration URL; audits without the token', async () => {
    const created = await invite({ maxUse: 3, expiresAt: '2026-04-01' }, libContext(h, { now: () => NOW, actor: 'root', reason: 'onboarding' }));
    expect(created.token).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{42}$/);
    expect(created.url).toBe(`http://ctl.test/registration/${created.token}`);
    expect(created.invite).toEqual({
      id: 1,
      tokenPrefix: created.token.slice(0, 6),
      type: 'reusable_date_limited',
      status: 'valid',
      used: false,
      uses: 0,
      maxUse: 3,
      usesLeft: 3,
      expiresAt: '2026-04-01',
      email: null,
      name: null,
      createdAt: NOW,
      revokedAt: null,
    });
    const row = await inviteRow(1);
    expect(row.token_hash).toBe(hashToken(created.token));
    expect(JSON.stringify(row)).not.toContain(created.token);
    const audit = await listAudit(h.db);
    expect(audit.map((a) => [a.verb, a.actor, a.reason])).toEqual([['invite', 'root', 'onboarding']]);
    expect(audit[0].details).toEqual({
      inviteId: 1,
      tokenPrefix: created.token.slice(0, 6),
      type: 'reusable_date_limited',
      expiresAt: '2026-04-01',
      maxUse: 3,
      email: null,
    });
  });

  test('an invite for an address that already has an account is a conflict, and nothing is written', async () => {
    await redeemInvite(ctx(), (await invite()).token, newUser('alice'), TEST_SETTINGS);
    await expect(invite({ email: 'ALICE@example.com' })).rejects.toThrow(new ConflictError('email ALICE@example.com is already taken'));
    expect(await h.db.selectFrom('invites').select('id').execute()).toHaveLength(1);
  });
});

describe('listInvites and checkInvite', () => {
  test('usable invites by default; --all adds used, expired and revoked, each with its status', async () => {
    const valid = await invite({ maxUse: 2 });
    const usedUp = await invite();
    await redeemInvite(ctx(), usedUp.token, newUser('alice'), TEST_SETTINGS);
    const expired = await invite({ expiresAt: '2026-03-10' });
    const revoked = await invite();
    await revokeInvite(ctx(), revoked.token);
    const later = new Date('2026-03-11T00:00:00Z');
    expect((await listInvites(h.db, { now: later })).map((i) => i.id)).toEqual([valid.invite.id]);
    const all = await listInvites(h.db, { all: true, now: later });
    expect(all.map((i) => [i.id, i.status, i.used, i.usesLeft])).toEqual([
      [valid.invite.id, 'valid', false, 2],
      [usedUp.invite.id, 'used', true, 0],
      [expired.invite.id, 'expired', false, 1],
      [revoked.invite.id, 'revoked', true, 0],
    ]);
    expect(JSON.stringify(all)).not.toContain(valid.token);
    expect(Object.keys(all[0])).not.toContain('token');
  });

  test('the expiry day itself is still valid, to its last millisecond (UTC); the next day is not', async () => {
    const { token } = await invite({ expiresAt: '2026-03-12' });
    expect((await checkInvite(h.db, token, new Date('2026-03-12T23:59:59.999Z'))).status).toBe('valid');
    expect((await checkInvite(h.db, token, new Date('2026-03-13T00:00:00.000Z'))).status).toBe('expired');
    await expect(redeemInvite(at('2026-03-13T00:00:00Z'), token, newUser('late'), TEST_SETTINGS)).rejects.toThrow(new ConflictError('this invite has expired'));
    const user = await redeemInvite(at('2026-03-12T23:59:00Z'), token, newUser('just'), TEST_SETTINGS);
    expect(user.user.nickname).toBe('just');
  });

  test('unknown tokens are unknown, whatever they look like', async () => {
    expect(await checkInvite(h.db, 'x'.repeat(43), NOW)).toEqual({ status: 'unknown' });
    expect(await checkInvite(h.db, '', NOW)).toEqual({ status: 'unknown' });
    expect(await checkInvite(h.db, "'; DROP TABLE invites; --", NOW)).toEqual({ status: 'unknown' });
  });
});

describe('revokeInvite', () => {
  test("by token or by id; unknown ones are exit 3 with Pleroma's message; a second revoke changes nothing", async () => {
    const a = await invite();
    const b = await invite();
    const r1 = await revokeInvite(ctx(), a.token);
    expect(r1).toMatchObject({ alreadyRevoked: false, invite: { id: a.invite.id, status: 'revoked', used: true, revokedAt: NOW } });
    const r2 = await revokeInvite(ctx(), String(b.invite.id));
    expect(r2.invite).toMatchObject({ id: b.invite.id, status: 'revoked' });
    expect((await revokeInvite(ctx(), a.token)).alreadyRevoked).toBe(true);
    await expect(revokeInvite(ctx(), 'no-such-token')).rejects.toThrow(new NotFoundError('No invite found with token no-such-token'));
    await expect(revokeInvite(ctx(), '99')).rejects.toThrow(new NotFoundError('No invite found with id 99'));
    expect((await listAudit(h.db)).filter((x) => x.verb === 'revoke_invite')).toHaveLength(2);
    await expect(redeemInvite(ctx(), a.token, newUser('alice'), TEST_SETTINGS)).rejects.toThrow(new ConflictError('this invite was revoked'));
    expect(await userCount()).toBe(0);
  });
});

describe('redeemInvite', () => {
  test('a one-time invite creates exactly one account with the given password, then is used', async () => {
    const { token, invite: inv } = await invite();
    const created = await redeemInvite(libContext(h, { now: () => NOW, actor: 'registration' }), token, newUser('alice', { name: 'Alice A.' }), TEST_SETTINGS);
    // Not made for an address: nothing vouches for the one given, so it starts unconfirmed.
    expect(created.user).toMatchObject({ nickname: 'alice', email: 'alice@example.com', name: 'Alice A.', confirmed: false, admin: false });
    expect(created.passwordReset).toBeNull();
    expect(created.confirmation?.url).toMatch(/\/verify\/[A-Za-z0-9_-]{43}$/);
    const row = await h.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow();
    expect(await verifyPassword('correct-horse', row.password_hash)).toBe(true);
    expect(await inviteRow(inv.id)).toMatchObject({ uses: 1, used: true });
    await expect(redeemInvite(ctx(), token, newUser('bob'), TEST_SETTINGS)).rejects.toThrow(new ConflictError('this invite has already been used'));
    expect(await userCount()).toBe(1);
    const audit = await listAudit(h.db);
    expect(audit.map((a) => [a.verb, a.actor, a.targetNickname])).toEqual([
      ['invite', 'tester', null],
      ['new', 'registration', 'alice'],
      ['redeem_invite', 'registration', 'alice'],
    ]);
    expect(audit[1].details).toMatchObject({ inviteId: inv.id, passwordSet: true });
    expect(JSON.stringify(audit)).not.toContain('correct-horse');
    expect(JSON.stringify(audit)).not.toContain(token);
  });

  test('a reusable invite counts uses and is used once uses reach max use', async () => {
    const { token, invite: inv } = await invite({ maxUse: 2 });
    await redeemInvite(ctx(), token, newUser('u1'), TEST_SETTINGS);
    expect(await inviteRow(inv.id)).toMatchObject({ uses: 1, used: false });
    expect((await checkInvite(h.db, token, NOW)).invite?.usesLeft).toBe(1);
    await redeemInvite(ctx(), token, newUser('u2'), TEST_SETTINGS);
    expect(await inviteRow(inv.id)).toMatchObject({ uses: 2, used: true });
    await expect(redeemInvite(ctx(), token, newUser('u3'), TEST_SETTINGS)).rejects.toThrow('this invite has already been used');
  });

  test("a failed registration does not use up the invite (Pleroma's does)", async () => {
    const existing = await invite({ maxUse: 5 });
    await redeemInvite(ctx(), existing.token, newUser('alice'), TEST_SETTINGS);
    const { token, invite: inv } = await invite();
    await expect(redeemInvite(ctx(), token, newUser('ALICE', { email: 'other@example.com' }), TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('nickname ALICE is already taken'),
    );
    await expect(redeemInvite(ctx(), token, newUser('bob', { email: 'not-an-email' }), TEST_SETTINGS)).rejects.toThrow(UsageError);
    await expect(redeemInvite(ctx(), token, newUser('bob', { password: 'short' }), TEST_SETTINGS)).rejects.toThrow(UsageError);
    await expect(redeemInvite(ctx(), token, newUser('bob', { password: null }), TEST_SETTINGS)).rejects.toThrow(
      new UsageError('a password is required to register'),
    );
    expect(await inviteRow(inv.id)).toMatchObject({ uses: 0, used: false });
    await redeemInvite(ctx(), token, newUser('bob'), TEST_SETTINGS);
    expect(await inviteRow(inv.id)).toMatchObject({ uses: 1, used: true });
  });

  test('a unique-index race inside the transaction rolls the use back too', async () => {
    const { token, invite: inv } = await invite({ maxUse: 5 });
    const results = await Promise.allSettled([
      redeemInvite(ctx(), token, newUser('racer'), TEST_SETTINGS),
      redeemInvite(ctx(), token, newUser('racer'), TEST_SETTINGS),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    expect(await inviteRow(inv.id)).toMatchObject({ uses: 1, used: false });
  });

  test('unknown tokens are exit 3; an invite for an address only registers that address', async () => {
    await expect(redeemInvite(ctx(), 'A'.repeat(43), newUser('alice'), TEST_SETTINGS)).rejects.toThrow(new NotFoundError('unknown invite token'));
    const { token } = await invite({ email: 'Jane@Example.com', name: 'Jane' });
    await expect(redeemInvite(ctx(), token, newUser('mallory'), TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('this invite was sent to another email address'),
    );
    const created = await redeemInvite(ctx(), token, newUser('jane', { email: 'jane@example.COM' }), TEST_SETTINGS);
    expect(created.user.email).toBe('jane@example.COM');
  });

  test('an account registered unconfirmed gets an email-confirmation link that confirmEmail accepts once', async () => {
    const { token } = await invite();
    const created = await redeemInvite(ctx(), token, newUser('alice', { confirmed: false }), { ...TEST_SETTINGS, confirmationTtlMs: 3600e3 });
    expect(created.user.confirmed).toBe(false);
    expect(created.confirmation?.url).toBe(`http://ctl.test/verify/${created.confirmation?.token}`);
    expect(created.confirmation?.expiresAt).toEqual(new Date(NOW.getTime() + 3600e3));
    expect(await confirmEmail(ctx(), created.confirmation!.token)).toEqual({ userId: created.user.id, nickname: 'alice' });
    expect((await h.db.selectFrom('users').select('confirmed').executeTakeFirstOrThrow()).confirmed).toBe(true);
  });

  test('20 concurrent redemptions of a max-use-5 invite create exactly 5 accounts', async () => {
    const { token, invite: inv } = await invite({ maxUse: 5 });
    // On PostgreSQL, three pools (12 connections) really race; PGlite has one connection and queues them.
    const extra = BACKEND === 'postgres' ? await Promise.all([tdb.open(), tdb.open()]) : [];
    try {
      const handles = [h, ...extra];
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          redeemInvite(libContext(handles[i % handles.length], { now: () => NOW }), token, newUser(`racer${i}`), TEST_SETTINGS),
        ),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(5);
      expect(failed).toHaveLength(15);
      for (const f of failed) expect(f.reason).toEqual(new ConflictError('this invite has already been used'));
    } finally {
      await Promise.all(extra.map((e) => e.close()));
    }
    expect(await userCount()).toBe(5);
    expect(await inviteRow(inv.id)).toMatchObject({ uses: 5, used: true });
    expect((await listAudit(h.db)).filter((a) => a.verb === 'redeem_invite')).toHaveLength(5);
  });
});
