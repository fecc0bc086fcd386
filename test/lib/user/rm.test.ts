import { sql } from 'kysely';
import { libContext, type TestDatabase, useOpenTestDatabase } from '../../helpers/backend';
import { seedActivities, seedToken, seedUser } from '../../helpers/seed-users';
import { listedNicknames, liveTokenCount, tableCounts } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import { planSoftDelete, softDeleteUser } from '../../../lib/user/rm';
import { findUser } from '../../../lib/user/find';
import { listAudit } from '../../../lib/audit/audit';
import { ConflictError, NotFoundError } from '../../../lib/errors';

let tdb: TestDatabase;
let h: DbHandle;
useOpenTestDatabase((d, handle) => {
  tdb = d;
  h = handle;
});

const DAY = 86400e3;
const T0 = new Date('2030-01-10T12:00:00.000Z');
const at = (d: Date) => libContext(h, { now: () => d, actor: 'root', reason: 'gdpr request' });
const SETTINGS = { retentionDays: 90, batchSize: 1000 };
const nicknames = () => listedNicknames(h.db);
const liveTokens = (userId: number) => liveTokenCount(h.db, userId);

describe('soft delete (rm)', () => {
  let alice: number;
  beforeEach(async () => {
    await seedUser(h.db, { nickname: 'admin', admin: true });
    alice = await seedUser(h.db, { nickname: 'alice' });
    for (const kind of ['access', 'refresh', 'authorization', 'password_reset', 'email_confirmation'] as const) await seedToken(h.db, alice, kind);
    await seedToken(h.db, alice, 'access', { revokedAt: new Date('2029-01-01') });
    await seedActivities(h.db, alice, 3);
  });

  test('marks deleted and deactivated, revokes every live token, keeps the data, writes one audit row', async () => {
    const result = await softDeleteUser(at(T0), 'ALICE@example.com', SETTINGS);
    expect(result).toEqual({
      id: alice,
      nickname: 'alice',
      changed: true,
      deletedAt: T0,
      restorableUntil: new Date(T0.getTime() + 90 * DAY),
      revokedTokens: 5,
      dryRun: false,
    });
    const row = await h.db.selectFrom('users').selectAll().where('id', '=', alice).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ deleted_at: T0, active: false, updated_at: T0 });
    expect(await liveTokens(alice)).toBe(0);
    expect(await tableCounts(h.db)).toMatchObject({ users: 2, activities: 3, tokens: 6 });
    const audit = await listAudit(h.db);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      verb: 'rm',
      actor: 'root',
      reason: 'gdpr request',
      targetUserId: alice,
      targetNickname: 'alice',
      details: { soft: true, wasActive: true, revokedTokens: 5 },
    });
  });

  test('the account disappears from list and lookups, but not from lookups that include deleted ones', async () => {
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    expect(await nicknames()).toEqual(['admin']);
    expect(await findUser(h.db, 'alice')).toBeUndefined();
    expect((await findUser(h.db, 'alice', { includeDeleted: true }))?.id).toBe(alice);
  });

  test('already deleted: nothing changes and no audit row', async () => {
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    const again = await softDeleteUser(at(new Date(T0.getTime() + DAY)), 'alice', SETTINGS);
    expect(again).toMatchObject({ changed: false, deletedAt: T0, revokedTokens: 0 });
    expect(await listAudit(h.db)).toHaveLength(1);
  });

  test('the plan counts what would be revoked and writes nothing', async () => {
    const before = await tableCounts(h.db);
    expect(await planSoftDelete(at(T0), 'alice', SETTINGS)).toMatchObject({ changed: true, revokedTokens: 5, dryRun: true });
    expect(await tableCounts(h.db)).toEqual(before);
    expect((await findUser(h.db, 'alice'))?.deleted_at).toBeNull();
  });

  test('missing or remote: "No local user X" (exit 3)', async () => {
    await seedUser(h.db, { nickname: 'carol@remote.example' });
    for (const ref of ['nobody', 'carol@remote.example']) {
      await expect(softDeleteUser(at(T0), ref, SETTINGS)).rejects.toThrow(new NotFoundError(`No local user ${ref}`));
      await expect(planSoftDelete(at(T0), ref, SETTINGS)).rejects.toThrow(NotFoundError);
    }
  });

  test('the last active admin is refused (exit 4); with a second active admin it goes', async () => {
    const message = 'refusing to delete admin: it is the last active admin (make another user admin first: ctl user set <user> --admin)';
    await expect(softDeleteUser(at(T0), 'admin', SETTINGS)).rejects.toThrow(new ConflictError(message));
    await expect(planSoftDelete(at(T0), 'admin', SETTINGS)).rejects.toThrow(ConflictError);
    // A deactivated or deleted admin does not count as another one.
    await seedUser(h.db, { nickname: 'sleepy', admin: true, active: false });
    await seedUser(h.db, { nickname: 'gone', admin: true, deletedAt: T0 });
    await expect(softDeleteUser(at(T0), 'admin', SETTINGS)).rejects.toThrow(ConflictError);
    expect(await listAudit(h.db)).toEqual([]);
    await seedUser(h.db, { nickname: 'admin2', admin: true });
    await expect(softDeleteUser(at(T0), 'admin', SETTINGS)).resolves.toMatchObject({ changed: true });
    await expect(softDeleteUser(at(T0), 'admin2', SETTINGS)).rejects.toThrow(ConflictError);
  });

  test('two admins deleting each other at once: one goes, the other is refused, no deadlock', async () => {
    await seedUser(h.db, { nickname: 'admin2', admin: true });
    // On a server a second handle makes the race real; PGlite has one connection, which queues them.
    const other = tdb.backend === 'postgres' ? await tdb.open() : null;
    const second = other ? libContext(other) : at(T0);
    try {
      const results = await Promise.allSettled([softDeleteUser(at(T0), 'admin', SETTINGS), softDeleteUser(second, 'admin2', SETTINGS)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    } finally {
      await other?.close();
    }
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE admin AND active AND deleted_at IS NULL`.execute(h.db);
    expect(rows[0].n).toBe(1);
  });
});
