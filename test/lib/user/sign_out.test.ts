import { libContext, useOpenTestDatabase } from '../../helpers/backend';
import { seedToken, seedUser } from '../../helpers/seed-users';
import { liveTokenKinds as liveTokenKindsOf } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import { signOutUser } from '../../../lib/user/sign_out';
import { listAudit } from '../../../lib/audit/audit';
import { NotFoundError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const T0 = new Date('2030-01-10T12:00:00.000Z');
const ctx = () => libContext(h, { now: () => T0, actor: 'root', reason: 'spam' });
const liveTokenKinds = (userId: number) => liveTokenKindsOf(h.db, userId);

describe('sign_out', () => {
  let alice: number;
  let bob: number;
  beforeEach(async () => {
    alice = await seedUser(h.db, { nickname: 'alice' });
    bob = await seedUser(h.db, { nickname: 'bob' });
    await seedToken(h.db, alice, 'access');
    await seedToken(h.db, alice, 'access', { expiresAt: new Date('2020-01-01') }); // expired, never revoked
    await seedToken(h.db, alice, 'refresh');
    await seedToken(h.db, alice, 'authorization', { revokedAt: new Date('2029-01-01') });
    await seedToken(h.db, alice, 'password_reset');
    await seedToken(h.db, bob, 'access');
  });

  test('revokes every session token of the user, by kind, and nothing else', async () => {
    expect(await signOutUser(ctx(), 'alice', { dryRun: true })).toEqual({
      id: alice,
      nickname: 'alice',
      revoked: { access: 2, refresh: 1, authorization: 0 },
      total: 3,
      dryRun: true,
    });
    expect(await liveTokenKinds(alice)).toEqual(['access', 'access', 'password_reset', 'refresh']);
    expect(await signOutUser(ctx(), 'alice')).toEqual({
      id: alice,
      nickname: 'alice',
      revoked: { access: 2, refresh: 1, authorization: 0 },
      total: 3,
      dryRun: false,
    });
    expect(await liveTokenKinds(alice)).toEqual(['password_reset']);
    expect(await liveTokenKinds(bob)).toEqual(['access']);
    const audit = await listAudit(h.db);
    expect(audit.map((a) => [a.verb, a.targetUserId, a.details])).toEqual([['sign_out', alice, { revoked: { access: 2, refresh: 1, authorization: 0 } }]]);
  });

  test('nothing left to revoke: total 0 and no audit row', async () => {
    await signOutUser(ctx(), 'alice');
    expect(await signOutUser(ctx(), 'alice')).toMatchObject({ total: 0 });
    expect(await listAudit(h.db)).toHaveLength(1);
  });

  test('remote or missing: "No local user X"', async () => {
    await seedUser(h.db, { nickname: 'far@remote.example' });
    await expect(signOutUser(ctx(), 'far@remote.example')).rejects.toThrow(new NotFoundError('No local user far@remote.example'));
    await expect(signOutUser(ctx(), 'nobody', { dryRun: true })).rejects.toThrow(new NotFoundError('No local user nobody'));
  });
});
