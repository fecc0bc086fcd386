import { sql } from 'kysely';
import { libContext, truncateAll, type TestDatabase, useOpenTestDatabase } from '../helpers/backend';
import { countQueries } from '../helpers/query-counter';
import { idOf, seedActivities, seedFollow, seedToken, seedUser, seedUsers, tableCounts } from '../helpers/lifecycle-a-seed';
import type { DbHandle } from '../../lib/db/db';
import { planSoftDelete, softDeleteUser } from '../../lib/user/rm';
import { planRestore, restoreUser } from '../../lib/user/restore';
import { planPurgeDeleted, planPurgeUser, purgeCutoff, purgeDeleted, purgeUser } from '../../lib/user/purge';
import { findUser } from '../../lib/user/find';
import { listUsers } from '../../lib/user/list';
import { listAudit } from '../../lib/audit/audit';
import { withBulkLock } from '../../lib/bulk/batches';
import { ConflictError, InterruptedError, NotFoundError } from '../../lib/errors';

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

async function nicknames(): Promise<string[]> {
  const all: string[] = [];
  for await (const page of listUsers(h.db, { local: null })) all.push(...page.map((u) => u.nickname));
  return all;
}

async function liveTokens(userId: number): Promise<number> {
  const rows = await h.db.selectFrom('tokens').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  return rows.length;
}

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
    expect(result).toEqual({ id: alice, nickname: 'alice', changed: true, deletedAt: T0, restorableUntil: new Date(T0.getTime() + 90 * DAY), revokedTokens: 5, dryRun: false });
    const row = await h.db.selectFrom('users').selectAll().where('id', '=', alice).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ deleted_at: T0, active: false, updated_at: T0 });
    expect(await liveTokens(alice)).toBe(0);
    expect(await tableCounts(h.db)).toMatchObject({ users: 2, activities: 3, tokens: 6 });
    const audit = await listAudit(h.db);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ verb: 'rm', actor: 'root', reason: 'gdpr request', targetUserId: alice, targetNickname: 'alice', details: { soft: true, wasActive: true, revokedTokens: 5 } });
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

describe('restore', () => {
  let alice: number;
  beforeEach(async () => {
    alice = await seedUser(h.db, { nickname: 'alice' });
    await seedUser(h.db, { nickname: 'bob' });
  });

  test('inside the window: undeleted and active again, tokens stay revoked, audit row', async () => {
    await seedToken(h.db, alice, 'access');
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    const later = new Date(T0.getTime() + 10 * DAY);
    expect(await planRestore(at(later), 'alice', SETTINGS)).toEqual({ id: alice, nickname: 'alice', changed: true, active: true, deletedAt: T0, dryRun: true });
    expect((await findUser(h.db, 'alice', { includeDeleted: true }))?.deleted_at).toEqual(T0);
    const result = await restoreUser(at(later), 'alice', SETTINGS);
    expect(result).toEqual({ id: alice, nickname: 'alice', changed: true, active: true, deletedAt: T0, dryRun: false });
    expect(await findUser(h.db, 'alice')).toMatchObject({ deleted_at: null, active: true });
    expect(await liveTokens(alice)).toBe(0);
    const audit = await listAudit(h.db, { verb: 'restore' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ targetUserId: alice, details: { deletedAt: T0.toISOString(), active: true } });
  });

  test('an account deactivated before it was deleted comes back deactivated', async () => {
    await h.db.updateTable('users').set({ active: false }).where('id', '=', alice).execute();
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    expect(await restoreUser(at(T0), 'alice', SETTINGS)).toMatchObject({ changed: true, active: false });
    expect(await findUser(h.db, 'alice')).toMatchObject({ deleted_at: null, active: false });
  });

  test('an account deleted by something else than rm (no audit row) comes back deactivated', async () => {
    await h.db.updateTable('users').set({ deleted_at: T0, active: false }).where('id', '=', alice).execute();
    expect(await restoreUser(at(T0), 'alice', SETTINGS)).toMatchObject({ changed: true, active: false });
  });

  test('the window is inclusive of its last moment and closed after it (exit 4)', async () => {
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    await softDeleteUser(at(T0), 'bob', SETTINGS);
    const edge = new Date(T0.getTime() + 90 * DAY);
    await expect(restoreUser(at(edge), 'alice', SETTINGS)).resolves.toMatchObject({ changed: true });
    const past = new Date(edge.getTime() + 1);
    const message = 'cannot restore bob: deleted on 2030-01-10, more than 90 days ago (CTL_RETENTION_DAYS): past the retention window';
    await expect(restoreUser(at(past), 'bob', SETTINGS)).rejects.toThrow(new ConflictError(message));
    await expect(planRestore(at(past), 'bob', SETTINGS)).rejects.toThrow(ConflictError);
    expect((await findUser(h.db, 'bob', { includeDeleted: true }))?.deleted_at).toEqual(T0);
  });

  test('not deleted: nothing to do; missing or remote: "No local user X"', async () => {
    expect(await restoreUser(at(T0), 'alice', SETTINGS)).toMatchObject({ changed: false, active: true, deletedAt: null });
    expect(await listAudit(h.db)).toEqual([]);
    await seedUser(h.db, { nickname: 'far@remote.example', deletedAt: T0 });
    await expect(restoreUser(at(T0), 'far@remote.example', SETTINGS)).rejects.toThrow(new NotFoundError('No local user far@remote.example'));
    await expect(restoreUser(at(T0), 'nobody', SETTINGS)).rejects.toThrow(new NotFoundError('No local user nobody'));
  });

  test('refused while a purge holds its lock', async () => {
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    if (tdb.backend === 'pglite') {
      // One connection, so the lock holder can only be this very session: it does not block itself.
      await expect(withBulkLock(h.db, 'purge_deleted', (conn) => restoreUser({ ...at(T0), db: conn }, 'alice', SETTINGS))).resolves.toMatchObject({ changed: true });
      return;
    }
    const other = await tdb.open();
    try {
      let release!: () => void;
      const held = withBulkLock(other.db, 'purge_deleted', () => new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 100));
      await expect(restoreUser(at(T0), 'alice', SETTINGS)).rejects.toThrow(new ConflictError('cannot restore alice while purge_deleted is running: try again when it has finished'));
      release();
      await held;
      await expect(restoreUser(at(T0), 'alice', SETTINGS)).resolves.toMatchObject({ changed: true });
    } finally {
      await other.close();
    }
  });
});

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
      id: alice, nickname: 'alice', email: 'alice@example.com', admin: false, active: true, deletedAt: null,
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
    const run = purgeUser(at(T0), 'alice', { ...SETTINGS, batchSize: 10 }, {
      signal: controller.signal,
      onProgress: (_stage, p) => {
        if (p.batches === 1) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(new InterruptedError('interrupted after 10 row(s) in 1 batch(es); every finished batch is saved, re-run to finish the rest'));
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
    const run = purgeDeleted(at(T0), purgeCutoff(T0, SETTINGS), { batchSize: 10 }, {
      signal: controller.signal,
      onProgress: (stage, p) => {
        if (stage === 'users' && p.batches === 1) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(InterruptedError);
    expect((await tableCounts(h.db)).users).toBe(15);
    expect((await purgeDeleted(at(T0), purgeCutoff(T0, SETTINGS), { batchSize: 10 })).deleted.users).toBe(15);
    expect((await tableCounts(h.db)).users).toBe(0);
  });
});
