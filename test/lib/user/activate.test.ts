import { libContext, useOpenTestDatabase } from '../../helpers/backend';
import { seedFollow, seedToken, seedUser } from '../../helpers/seed-users';
import { followPairs, liveTokenKinds as liveTokenKindsOf, tableCounts } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import { activateUser, deactivateUser } from '../../../lib/user/activate';
import { findUser } from '../../../lib/user/find';
import { listAudit } from '../../../lib/audit/audit';
import { ConflictError, NotFoundError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const T0 = new Date('2030-01-10T12:00:00.000Z');
const ctx = () => libContext(h, { now: () => T0, actor: 'root', reason: 'spam' });
const follows = () => followPairs(h.db);
const liveTokenKinds = (userId: number) => liveTokenKindsOf(h.db, userId);

describe('deactivate / activate', () => {
  let alice: number;
  beforeEach(async () => {
    await seedUser(h.db, { nickname: 'admin', admin: true });
    alice = await seedUser(h.db, { nickname: 'alice' });
    const bob = await seedUser(h.db, { nickname: 'bob' });
    const far = await seedUser(h.db, { nickname: 'far@remote.example' });
    await seedFollow(h.db, alice, bob);
    await seedFollow(h.db, bob, alice);
    await seedFollow(h.db, far, alice);
    await seedFollow(h.db, alice, far);
    await seedFollow(h.db, bob, far);
    for (const kind of ['access', 'refresh', 'authorization', 'password_reset'] as const) await seedToken(h.db, alice, kind);
  });

  test('deactivate: follows with local users go both ways, remote ones stay, sessions and links revoked, one audit row', async () => {
    const result = await deactivateUser(ctx(), 'alice');
    expect(result).toEqual({ id: alice, nickname: 'alice', active: false, changed: true, unfollowed: 2, revokedSessions: 3, dryRun: false });
    expect(await findUser(h.db, 'alice')).toMatchObject({ active: false, updated_at: T0 });
    expect(await follows()).toEqual(['alice>far@remote.example', 'bob>far@remote.example', 'far@remote.example>alice']);
    expect(await liveTokenKinds(alice)).toEqual([]);
    const audit = await listAudit(h.db);
    expect(audit.map((a) => [a.verb, a.targetNickname, a.reason, a.details])).toEqual([
      ['deactivate', 'alice', 'spam', { active: false, unfollowed: 2, revokedSessions: 3, revokedLinks: 1 }],
    ]);
  });

  test('dry run counts the same and writes nothing', async () => {
    const before = await tableCounts(h.db);
    expect(await deactivateUser(ctx(), 'alice', { dryRun: true })).toMatchObject({ changed: true, unfollowed: 2, revokedSessions: 3, dryRun: true });
    expect(await tableCounts(h.db)).toEqual(before);
    expect((await findUser(h.db, 'alice'))?.active).toBe(true);
  });

  test('already deactivated / already active: nothing changes, no audit row', async () => {
    await deactivateUser(ctx(), 'alice');
    expect(await deactivateUser(ctx(), 'alice')).toMatchObject({ changed: false, active: false });
    expect(await activateUser(ctx(), 'bob')).toMatchObject({ changed: false, active: true });
    expect(await listAudit(h.db)).toHaveLength(1);
  });

  test('activate: active again (follows do not come back), audit row; works for remote users', async () => {
    await deactivateUser(ctx(), 'alice');
    expect(await activateUser(ctx(), 'alice', { dryRun: true })).toMatchObject({ changed: true, dryRun: true });
    expect((await findUser(h.db, 'alice'))?.active).toBe(false);
    expect(await activateUser(ctx(), 'alice')).toEqual({
      id: alice,
      nickname: 'alice',
      active: true,
      changed: true,
      unfollowed: 0,
      revokedSessions: 0,
      dryRun: false,
    });
    expect((await findUser(h.db, 'alice'))?.active).toBe(true);
    expect((await listAudit(h.db, { verb: 'activate' }))[0]).toMatchObject({ targetUserId: alice, details: { active: true } });
    await deactivateUser(ctx(), 'FAR@remote.example');
    expect(await activateUser(ctx(), 'far@remote.example')).toMatchObject({ changed: true });
  });

  test('missing or soft-deleted: "No user X" (exit 3)', async () => {
    await seedUser(h.db, { nickname: 'gone', deletedAt: T0, active: false });
    for (const ref of ['nobody', 'gone']) {
      await expect(deactivateUser(ctx(), ref)).rejects.toThrow(new NotFoundError(`No user ${ref}`));
      await expect(activateUser(ctx(), ref)).rejects.toThrow(new NotFoundError(`No user ${ref}`));
      await expect(deactivateUser(ctx(), ref, { dryRun: true })).rejects.toThrow(NotFoundError);
    }
  });

  test('the last active admin cannot be deactivated (exit 4)', async () => {
    const message = 'refusing to deactivate admin: it is the last active admin (make another user admin first: ctl user set <user> --admin)';
    await expect(deactivateUser(ctx(), 'admin')).rejects.toThrow(new ConflictError(message));
    await expect(deactivateUser(ctx(), 'admin', { dryRun: true })).rejects.toThrow(ConflictError);
    expect((await findUser(h.db, 'admin'))?.active).toBe(true);
    await seedUser(h.db, { nickname: 'admin2', admin: true });
    await expect(deactivateUser(ctx(), 'admin')).resolves.toMatchObject({ changed: true });
  });
});
