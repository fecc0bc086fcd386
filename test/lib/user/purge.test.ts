// lib/user/purge.ts serves both `rm --purge` (one account) and `purge_deleted` (every account past
// the retention window).
import { sql } from 'kysely';
import { libContext, truncateAll, useOpenTestDatabase } from '../../helpers/backend';
import { countQueries } from '../../helpers/query-counter';
import { idOf, seedActivities, seedFollow, seedToken, seedUser, seedUsers } from '../../helpers/seed-users';
import { listedNicknames, liveTokenCount, tableCounts } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import { softDeleteUser } from '../../../lib/user/rm';
import { planPurgeDeleted, planPurgeUser, purgeCutoff, purgeDeleted, purgeUser } from '../../../lib/user/purge';
import { findUser } from '../../../lib/user/find';
import { listAudit } from '../../../lib/audit/audit';
import { ConflictError, InterruptedError, NotFoundError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const DAY = 86400e3;
const T0 = new Date('2030-01-10T12:00:00.000Z');
const at = (d: Date) => libContext(h, { now: () => d, actor: 'root', reason: 'gdpr request' });
const SETTINGS = { retentionDays: 90, batchSize: 1000 };
const nicknames = () => listedNicknames(h.db);
const liveTokens = (userId: number) => liveTokenCount(h.db, userId);

describe('rm --purge', () => {
  let alice: number;
  let bob: number;
  let far: number;
  beforeEach(async () => {
    await seedUser(h.db, { nickname: 'admin', admin: true });
    alice = await seedUser(h.db, { nickname: 'alice' });
    bob = await seedUser(h.db, { nickname: 'bob' });
    far = await seedUser(h.db, { nickname: 'far@remote.example' });
    await seedActivities(h.db, alice, 25);
    await seedActivities(h.db, bob, 4);
    await seedFollow(h.db, alice, bob);
    await seedFollow(h.db, bob, alice);
    await seedFollow(h.db, far, alice);
    await seedFollow(h.db, bob, far);
    await seedToken(h.db, alice, 'access');
    await seedToken(h.db, alice, 'password_reset', { revokedAt: T0 });
    await seedToken(h.db, bob, 'access');
  });

  test('the plan shows the user and the rows per table, and writes nothing', async () => {
    const before = await tableCounts(h.db);
    expect(await planPurgeUser(at(T0), 'alice')).toEqual({
      id: alice,
      nickname: 'alice',
      email: 'alice@example.com',
      admin: false,
      active: true,
      deletedAt: null,
      counts: { users: 1, activities: 25, follows: 3, tokens: 2 },
    });
    expect(await tableCounts(h.db)).toEqual(before);
  });

  test('deletes the account and everything it owns, nothing of anyone else, in batches', async () => {
    const result = await purgeUser(at(T0), 'alice', { ...SETTINGS, batchSize: 10 });
    expect(result).toEqual({ id: alice, nickname: 'alice', deleted: { users: 1, activities: 25, follows: 3, tokens: 2 }, batches: 3 });
    expect(await findUser(h.db, 'alice', { includeDeleted: true })).toBeUndefined();
    expect(await tableCounts(h.db)).toMatchObject({ users: 3, activities: 4, follows: 1, tokens: 1 });
    const audit = await listAudit(h.db);
    expect(audit.map((a) => [a.verb, a.targetUserId, a.details])).toEqual([
      ['rm', alice, { soft: true, purge: true, wasActive: true, revokedTokens: 1 }],
      ['rm', alice, { purge: true, stage: 'activities', batch: 1, activities: 10 }],
      ['rm', alice, { purge: true, stage: 'activities', batch: 2, activities: 10 }],
      ['rm', alice, { purge: true, stage: 'activities', batch: 3, activities: 5 }],
      ['rm', alice, { purge: true, stage: 'account', deleted: { users: 1, activities: 25, follows: 3, tokens: 2 } }],
    ]);
  });

  test('a soft-deleted account can be purged; a remote or missing one cannot', async () => {
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    await expect(purgeUser(at(T0), 'alice', SETTINGS)).resolves.toMatchObject({ deleted: { users: 1, activities: 25 } });
    await expect(purgeUser(at(T0), 'far@remote.example', SETTINGS)).rejects.toThrow(new NotFoundError('No local user far@remote.example'));
    await expect(planPurgeUser(at(T0), 'alice')).rejects.toThrow(new NotFoundError('No local user alice'));
  });

  test('the last active admin is refused before anything is deleted', async () => {
    await seedActivities(h.db, await idOf(h.db, 'admin'), 3);
    await expect(planPurgeUser(at(T0), 'admin')).rejects.toThrow(ConflictError);
    const before = await tableCounts(h.db);
    await expect(purgeUser(at(T0), 'admin', SETTINGS)).rejects.toThrow(ConflictError);
    expect(await tableCounts(h.db)).toEqual(before);
  });

  test('interrupted in the batch phase: whole batches, a deleted signed-out account, and a re-run finishes', async () => {
    const controller = new AbortController();
    const run = purgeUser(
      at(T0),
      'alice',
      { ...SETTINGS, batchSize: 10 },
      {
        signal: controller.signal,
        onProgress: (_stage, p) => {
          if (p.batches === 1) controller.abort();
        },
      },
    );
    await expect(run).rejects.toThrow(new InterruptedError('interrupted after 10 rows in 1 batch; every finished batch is saved, re-run to finish the rest'));
    const row = await findUser(h.db, 'alice', { includeDeleted: true });
    expect(row).toMatchObject({ deleted_at: T0, active: false });
    expect(await liveTokens(alice)).toBe(0);
    expect(await tableCounts(h.db)).toMatchObject({ users: 4, activities: 19 });
    const again = await purgeUser(at(T0), 'alice', { ...SETTINGS, batchSize: 10 });
    expect(again.deleted).toEqual({ users: 1, activities: 15, follows: 3, tokens: 2 });
    expect(await tableCounts(h.db)).toMatchObject({ users: 3, activities: 4, follows: 1, tokens: 1 });
  });

  test('the final stage is all or nothing', async () => {
    // A trigger that fails the user row's DELETE stands in for a crash in the last transaction.
    await sql`CREATE FUNCTION lca_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$`.execute(h.db);
    await sql`CREATE TRIGGER lca_fail BEFORE DELETE ON users FOR EACH ROW EXECUTE FUNCTION lca_fail()`.execute(h.db);
    try {
      await expect(purgeUser(at(T0), 'alice', { ...SETTINGS, batchSize: 100 })).rejects.toThrow('disk on fire');
      // Activities went in their batches; follows, tokens, the row and the final audit row did not.
      expect(await tableCounts(h.db)).toMatchObject({ users: 4, activities: 4, follows: 4, tokens: 3 });
      expect((await listAudit(h.db)).map((a) => (a.details as { stage?: string }).stage)).toEqual([undefined, 'activities']);
    } finally {
      await sql`DROP TRIGGER lca_fail ON users`.execute(h.db);
      await sql`DROP FUNCTION lca_fail()`.execute(h.db);
    }
    await expect(purgeUser(at(T0), 'alice', SETTINGS)).resolves.toMatchObject({ deleted: { users: 1, activities: 0, follows: 3, tokens: 2 } });
  });
});

describe('purge_deleted', () => {
  const old = new Date(T0.getTime() - 100 * DAY);
  const recent = new Date(T0.getTime() - 10 * DAY);

  beforeEach(async () => {
    const a = await seedUser(h.db, { nickname: 'old1', deletedAt: old });
    const b = await seedUser(h.db, { nickname: 'old2', deletedAt: new Date(old.getTime() + DAY) });
    const c = await seedUser(h.db, { nickname: 'recent', deletedAt: recent });
    const d = await seedUser(h.db, { nickname: 'alive' });
    await seedActivities(h.db, a, 7);
    await seedActivities(h.db, b, 5);
    await seedActivities(h.db, c, 2);
    await seedActivities(h.db, d, 1);
    await seedFollow(h.db, a, d);
    await seedFollow(h.db, d, b);
    await seedFollow(h.db, a, b);
    await seedFollow(h.db, c, d);
    await seedToken(h.db, a, 'access');
    await seedToken(h.db, d, 'access');
  });

  test('the cutoff is the retention window before now, or --older-than', () => {
    expect(purgeCutoff(T0, { retentionDays: 90 })).toEqual(new Date(T0.getTime() - 90 * DAY));
    expect(purgeCutoff(T0, { retentionDays: 90 }, 7 * DAY)).toEqual(new Date(T0.getTime() - 7 * DAY));
  });

  test('plans, then purges only accounts deleted before the cutoff, with an audit row each', async () => {
    const cutoff = purgeCutoff(T0, SETTINGS);
    const before = await tableCounts(h.db);
    expect(await planPurgeDeleted(at(T0), cutoff)).toEqual({ cutoff, counts: { users: 2, activities: 12, follows: 3, tokens: 1 }, sample: ['old1', 'old2'] });
    expect(await tableCounts(h.db)).toEqual(before);
    const result = await purgeDeleted(at(T0), cutoff, { batchSize: 5 });
    expect(result.deleted).toEqual({ users: 2, activities: 12, follows: 3, tokens: 1 });
    expect(await nicknames()).toEqual(['alive']);
    expect((await findUser(h.db, 'recent', { includeDeleted: true }))?.nickname).toBe('recent');
    expect(await tableCounts(h.db)).toMatchObject({ users: 2, activities: 3, follows: 1, tokens: 1 });
    const accounts = (await listAudit(h.db, { verb: 'purge_deleted' })).filter((a) => a.targetNickname !== null);
    expect(accounts.map((a) => [a.targetNickname, a.actor, a.reason, a.details])).toEqual([
      ['old1', 'root', 'gdpr request', { stage: 'account', cutoff: cutoff.toISOString() }],
      ['old2', 'root', 'gdpr request', { stage: 'account', cutoff: cutoff.toISOString() }],
    ]);
    // The cron job again: nothing left to do.
    expect((await purgeDeleted(at(T0), cutoff, { batchSize: 5 })).deleted).toEqual({ users: 0, activities: 0, follows: 0, tokens: 0 });
  });

  test('statements grow with batches, not with accounts', async () => {
    async function statementsFor(accounts: number, batchSize: number): Promise<number> {
      await truncateAll(h);
      await seedUsers(h.db, 'gone', accounts, '', { deletedAt: old, active: false });
      const counted = countQueries(h.db);
      const result = await purgeDeleted({ ...at(T0), db: counted.db }, purgeCutoff(T0, SETTINGS), { batchSize });
      expect(result.deleted.users).toBe(accounts);
      return counted.count();
    }
    const few = await statementsFor(30, 10); // 3 full batches + 1 empty
    const many = await statementsFor(600, 200); // the same number of batches, 20 times the accounts
    expect(many).toBe(few);
    expect(await statementsFor(60, 10)).toBeGreaterThan(few); // more batches, more statements
  });

  test('interrupted between batches: whole batches done, a re-run finishes', async () => {
    await truncateAll(h);
    await seedUsers(h.db, 'gone', 25, '', { deletedAt: old, active: false });
    const controller = new AbortController();
    const run = purgeDeleted(
      at(T0),
      purgeCutoff(T0, SETTINGS),
      { batchSize: 10 },
      {
        signal: controller.signal,
        onProgress: (stage, p) => {
          if (stage === 'users' && p.batches === 1) controller.abort();
        },
      },
    );
    await expect(run).rejects.toThrow(InterruptedError);
    expect((await tableCounts(h.db)).users).toBe(15);
    expect((await purgeDeleted(at(T0), purgeCutoff(T0, SETTINGS), { batchSize: 10 })).deleted.users).toBe(15);
    expect((await tableCounts(h.db)).users).toBe(0);
  });
});
