import { sql } from 'kysely';
import { truncateAll, TEST_SETTINGS } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import { setUser } from '../../../lib/user/set';
import { hashToken } from '../../../lib/tokens/secrets';
import { ConflictError, NotFoundError, UsageError } from '../../../lib/errors';
import { NOW, useUserFixture } from '../../helpers/user-fixture';

let h: DbHandle;
const { ctx, seed, user, tokens, audit } = useUserFixture((handle) => (h = handle));

describe('setUser', () => {
  test('no change asked for is exit 2, before the user is even looked up', async () => {
    await expect(setUser(ctx(), 'nobody', {}, TEST_SETTINGS)).rejects.toThrow(
      new UsageError('nothing to change: pass at least one of --[no-]admin, --[no-]confirmed, --[no-]locked, --[no-]moderator, --email, --name, --bio'),
    );
    await expect(setUser(ctx(), 'nobody', { name: '  ' }, TEST_SETTINGS)).rejects.toThrow('the name cannot be empty');
    await expect(setUser(ctx(), 'nobody', { email: 'nope' }, TEST_SETTINGS)).rejects.toThrow('invalid email "nope"');
  });

  test('reports the asked fields in Pleroma order, writes only what changed, with one audit row', async () => {
    await seed({ nickname: 'alice', email: 'alice@example.com', locked: true });
    const r = await setUser(ctx(), 'ALICE@example.com', { moderator: true, locked: true, admin: true, name: 'Alice A.' }, TEST_SETTINGS);
    expect(r.fields.map((f) => [f.field, f.to, f.changed])).toEqual([
      ['admin', true, true],
      ['locked', true, false],
      ['moderator', true, true],
      ['name', 'Alice A.', true],
    ]);
    expect(r.changed).toBe(true);
    expect(r.user).toMatchObject({ nickname: 'alice', admin: true, moderator: true, locked: true, name: 'Alice A.' });
    const row = await user('alice');
    expect(row).toMatchObject({ admin: true, moderator: true, locked: true, name: 'Alice A.' });
    expect(row.updated_at.toISOString()).toBe(NOW.toISOString());
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      verb: 'set',
      actor: 'ops',
      reason: 'ticket 1',
      targetUserId: row.id,
      targetNickname: 'alice',
      details: { admin: { from: false, to: true }, moderator: { from: false, to: true }, name: { from: 'alice', to: 'Alice A.' } },
    });
  });

  test('values the user already has: nothing written, no audit row', async () => {
    await seed({ nickname: 'alice', admin: true });
    const before = await user('alice');
    const r = await setUser(ctx(), 'alice', { admin: true, locked: false }, TEST_SETTINGS);
    expect(r.changed).toBe(false);
    expect(r.fields.every((f) => !f.changed)).toBe(true);
    expect(await user('alice')).toEqual(before);
    expect(await audit()).toEqual([]);
  });

  test('remote, missing and soft-deleted users are "No local user X" (exit 3)', async () => {
    await seed({ nickname: 'bob@remote.example', local: false }, { nickname: 'gone', deleted_at: NOW });
    for (const ref of ['bob@remote.example', 'nobody', 'gone']) {
      await expect(setUser(ctx(), ref, { locked: true }, TEST_SETTINGS)).rejects.toThrow(new NotFoundError(`No local user ${ref}`));
    }
  });

  test('--no-admin on the last active admin is exit 4; a deactivated or deleted admin does not count as another', async () => {
    await seed({ nickname: 'root', admin: true }, { nickname: 'old', admin: true, active: false }, { nickname: 'dead', admin: true, deleted_at: NOW });
    await expect(setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('refusing to remove admin status from root: it is the last active admin (make another user admin first: ctl user set <user> --admin)'),
    );
    await expect(setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS, { dryRun: true })).rejects.toThrow(ConflictError);
    expect((await user('root')).admin).toBe(true);
    // Demoting an admin that is not active is allowed: it locks nobody out.
    await expect(setUser(ctx(), 'old', { admin: false }, TEST_SETTINGS)).resolves.toMatchObject({ changed: true });
    await seed({ nickname: 'second', admin: true });
    await expect(setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS)).resolves.toMatchObject({ changed: true });
    expect(await audit()).toHaveLength(2);
  });

  test('two demotions of the last two admins at once: exactly one wins, never a deadlock', async () => {
    for (let round = 0; round < 5; round++) {
      await truncateAll(h);
      await seed({ nickname: 'a1', admin: true }, { nickname: 'a2', admin: true }, { nickname: 'a3', admin: true, active: false });
      const results = await Promise.allSettled([
        setUser(ctx(), 'a2', { admin: false, locked: true }, TEST_SETTINGS),
        setUser(ctx(), 'a1', { admin: false }, TEST_SETTINGS),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toBeInstanceOf(ConflictError);
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE admin AND active`.execute(h.db);
      expect(rows[0].n).toBe(1);
    }
  });

  test('--no-confirmed replaces pending confirmation links with a fresh one stored only as its hash', async () => {
    const [id] = await seed({ nickname: 'alice', confirmed: true });
    await h.db
      .insertInto('tokens')
      .values({ kind: 'email_confirmation', token_hash: hashToken('old'), user_id: id, expires_at: null })
      .execute();
    const r = await setUser(ctx(), 'alice', { confirmed: false }, TEST_SETTINGS);
    expect(r.changed).toBe(true);
    expect(r.revokedConfirmationTokens).toBe(1);
    const token = r.confirmation!.url.replace('http://ctl.test/verify/', '');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await tokens();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ token_hash: hashToken('old'), revoked_at: NOW });
    expect(rows[1]).toMatchObject({
      token_hash: hashToken(token),
      user_id: id,
      revoked_at: null,
      expires_at: new Date(NOW.getTime() + TEST_SETTINGS.confirmationTtlMs),
    });
    expect((await user('alice')).confirmed).toBe(false);
    const [entry] = await audit();
    expect(JSON.stringify(entry)).not.toContain(token);
    expect(JSON.stringify(entry)).not.toContain(hashToken(token));
    expect(entry.details).toEqual({ confirmed: { from: true, to: false }, confirmationTokenIssued: true, confirmationTokensRevoked: 1 });
    // Already unconfirmed: --no-confirmed still issues a new link (Pleroma), revoking the last one.
    const again = await setUser(ctx(), 'alice', { confirmed: false }, TEST_SETTINGS);
    expect(again.changed).toBe(true);
    expect((await tokens()).filter((t) => t.revoked_at === null)).toHaveLength(1);
  });

  test('--confirmed clears pending confirmation links', async () => {
    const [id] = await seed({ nickname: 'alice', confirmed: false });
    await h.db
      .insertInto('tokens')
      .values([
        { kind: 'email_confirmation', token_hash: hashToken('a'), user_id: id, expires_at: null },
        { kind: 'password_reset', token_hash: hashToken('b'), user_id: id, expires_at: null },
      ])
      .execute();
    const r = await setUser(ctx(), 'alice', { confirmed: true }, TEST_SETTINGS);
    expect(r).toMatchObject({ changed: true, revokedConfirmationTokens: 1, confirmation: null });
    expect((await tokens())[0].revoked_at).toEqual(NOW);
    expect((await tokens('password_reset'))[0].revoked_at).toBeNull();
  });

  test('email: validated, unique case-insensitively (exit 4), changed otherwise', async () => {
    await seed({ nickname: 'alice', email: 'alice@example.com' }, { nickname: 'bob', email: 'bob@example.com' });
    await expect(setUser(ctx(), 'alice', { email: 'BOB@example.com' }, TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('email BOB@example.com is already taken'),
    );
    const r = await setUser(ctx(), 'alice', { email: 'Alice@New.example' }, TEST_SETTINGS);
    expect(r.user.email).toBe('Alice@New.example');
    expect((await user('alice')).email).toBe('Alice@New.example');
  });

  test('a dry run checks everything and writes nothing', async () => {
    await seed({ nickname: 'alice', confirmed: true });
    const before = await user('alice');
    const r = await setUser(ctx(), 'alice', { confirmed: false, moderator: true, bio: 'hello' }, TEST_SETTINGS, { dryRun: true });
    expect(r).toMatchObject({ dryRun: true, changed: true, confirmation: null });
    expect(r.user).toMatchObject({ confirmed: false, moderator: true, bio: 'hello' });
    expect(await user('alice')).toEqual(before);
    expect(await tokens()).toEqual([]);
    expect(await audit()).toEqual([]);
  });
});
