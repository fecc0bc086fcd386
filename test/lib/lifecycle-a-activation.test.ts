import { sql } from 'kysely';
import { libContext, truncateAll, type TestDatabase, useOpenTestDatabase } from '../helpers/backend';
import { countQueries } from '../helpers/query-counter';
import { seedActivities, seedFollow, seedToken, seedUser, seedUsers, tableCounts } from '../helpers/lifecycle-a-seed';
import type { DbHandle } from '../../lib/db/db';
import { activateUser, deactivateUser } from '../../lib/user/activate';
import { signOutUser } from '../../lib/user/sign_out';
import { deleteActivities, planDeleteActivities } from '../../lib/user/delete_activities';
import { deactivateInstance, planDeactivateInstance } from '../../lib/user/deactivate_all_from_instance';
import { findUser } from '../../lib/user/find';
import { listAudit } from '../../lib/audit/audit';
import { ConflictError, InterruptedError, NotFoundError, UsageError } from '../../lib/errors';

let tdb: TestDatabase;
let h: DbHandle;
useOpenTestDatabase((d, handle) => {
  tdb = d;
  h = handle;
});

const T0 = new Date('2030-01-10T12:00:00.000Z');
const ctx = () => libContext(h, { now: () => T0, actor: 'root', reason: 'spam' });

async function follows(): Promise<string[]> {
  const { rows } = await sql<{ pair: string }>`
    SELECT a.nickname || '>' || b.nickname AS pair FROM follows f
    JOIN users a ON a.id = f.follower_id JOIN users b ON b.id = f.following_id ORDER BY 1`.execute(h.db);
  return rows.map((r) => r.pair);
}

async function liveTokenKinds(userId: number): Promise<string[]> {
  const rows = await h.db.selectFrom('tokens').select('kind').where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('kind').execute();
  return rows.map((r) => r.kind);
}

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

  test('deactivate: follows with local users go both ways, remote ones stay, sessions revoked, one audit row', async () => {
    const result = await deactivateUser(ctx(), 'alice');
    expect(result).toEqual({ id: alice, nickname: 'alice', active: false, changed: true, unfollowed: 2, revokedSessions: 3, dryRun: false });
    expect(await findUser(h.db, 'alice')).toMatchObject({ active: false, updated_at: T0 });
    expect(await follows()).toEqual(['alice>far@remote.example', 'bob>far@remote.example', 'far@remote.example>alice']);
    expect(await liveTokenKinds(alice)).toEqual(['password_reset']);
    const audit = await listAudit(h.db);
    expect(audit.map((a) => [a.verb, a.targetNickname, a.reason, a.details])).toEqual([['deactivate', 'alice', 'spam', { active: false, unfollowed: 2, revokedSessions: 3 }]]);
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
    expect(await activateUser(ctx(), 'alice')).toEqual({ id: alice, nickname: 'alice', active: true, changed: true, unfollowed: 0, revokedSessions: 0, dryRun: false });
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
    expect(await signOutUser(ctx(), 'alice', { dryRun: true })).toEqual({ id: alice, nickname: 'alice', revoked: { access: 2, refresh: 1, authorization: 0 }, total: 3, dryRun: true });
    expect(await liveTokenKinds(alice)).toEqual(['access', 'access', 'password_reset', 'refresh']);
    expect(await signOutUser(ctx(), 'alice')).toEqual({ id: alice, nickname: 'alice', revoked: { access: 2, refresh: 1, authorization: 0 }, total: 3, dryRun: false });
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

describe('delete_activities', () => {
  let alice: number;
  beforeEach(async () => {
    alice = await seedUser(h.db, { nickname: 'alice' });
    await seedActivities(h.db, alice, 25);
    await seedActivities(h.db, await seedUser(h.db, { nickname: 'bob' }), 3);
  });

  test('plans with a count, deletes only that user\'s activities in batches, an audit row per batch', async () => {
    const plan = await planDeleteActivities(ctx(), 'ALICE');
    expect(plan).toEqual({ id: alice, nickname: 'alice', activities: 25 });
    const result = await deleteActivities(ctx(), plan, { batchSize: 10 });
    expect(result).toEqual({ id: alice, nickname: 'alice', deleted: 25, batches: 3 });
    expect(await tableCounts(h.db)).toMatchObject({ users: 2, activities: 3 });
    expect((await listAudit(h.db)).map((a) => [a.verb, a.targetUserId, a.details])).toEqual([
      ['delete_activities', alice, { batch: 1, activities: 10 }],
      ['delete_activities', alice, { batch: 2, activities: 10 }],
      ['delete_activities', alice, { batch: 3, activities: 5 }],
    ]);
  });

  test('statements grow with batches, not with activities', async () => {
    async function statementsFor(n: number, batchSize: number): Promise<number> {
      await truncateAll(h);
      const id = await seedUser(h.db, { nickname: 'alice' });
      await seedActivities(h.db, id, n);
      const counted = countQueries(h.db);
      const result = await deleteActivities({ ...ctx(), db: counted.db }, { id, nickname: 'alice', activities: n }, { batchSize });
      expect(result.deleted).toBe(n);
      return counted.count();
    }
    const few = await statementsFor(25, 10);
    expect(await statementsFor(2500, 1000)).toBe(few);
    expect(await statementsFor(45, 10)).toBeGreaterThan(few);
  });

  test('interrupted: whole batches deleted, a re-run finishes', async () => {
    const controller = new AbortController();
    const run = deleteActivities(ctx(), { id: alice, nickname: 'alice', activities: 25 }, { batchSize: 10 }, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toThrow(new InterruptedError('interrupted after 10 row(s) in 1 batch(es); every finished batch is saved, re-run to finish the rest'));
    expect((await tableCounts(h.db)).activities).toBe(18);
    expect(await deleteActivities(ctx(), { id: alice, nickname: 'alice', activities: 15 }, { batchSize: 10 })).toMatchObject({ deleted: 15 });
  });

  test('remote or missing: "No local user X"', async () => {
    await seedUser(h.db, { nickname: 'far@remote.example' });
    await expect(planDeleteActivities(ctx(), 'far@remote.example')).rejects.toThrow(new NotFoundError('No local user far@remote.example'));
  });
});

describe('deactivate_all_from_instance', () => {
  beforeEach(async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    const s1 = await seedUser(h.db, { nickname: 's1@spam.example' });
    const s2 = await seedUser(h.db, { nickname: 'S2@Spam.Example' });
    await seedUser(h.db, { nickname: 's3@spam.example', active: false });
    await seedUser(h.db, { nickname: 's4@spam.example', deletedAt: T0, active: true });
    const c = await seedUser(h.db, { nickname: 'c@spam.example.com' });
    await seedUser(h.db, { nickname: 'd@notspam.example' });
    await seedUser(h.db, { nickname: 'e@sub.spam.example' });
    const other = await seedUser(h.db, { nickname: 'o@other.example' });
    await seedFollow(h.db, alice, s1);
    await seedFollow(h.db, s2, alice);
    await seedFollow(h.db, s1, other);
    await seedFollow(h.db, alice, c);
    await seedToken(h.db, s1, 'access');
  });

  test('matches the host exactly (case-insensitively): never a substring, a subdomain or a longer name', async () => {
    const plan = await planDeactivateInstance(h.db, 'SPAM.example');
    expect(plan).toEqual({ instance: 'spam.example', users: 2, follows: 2, sample: ['s1@spam.example', 'S2@Spam.Example'] });
    expect(await planDeactivateInstance(h.db, '@spam.example')).toMatchObject({ users: 2 });
    const result = await deactivateInstance(ctx(), plan, { batchSize: 1000 });
    expect(result).toEqual({ instance: 'spam.example', deactivated: 2, unfollowed: 2, revokedSessions: 1, batches: 1 });
    const { rows } = await sql<{ nickname: string; active: boolean }>`SELECT nickname, active FROM users ORDER BY id`.execute(h.db);
    expect(rows.map((r) => `${r.nickname}:${r.active}`)).toEqual([
      'alice:true', 's1@spam.example:false', 'S2@Spam.Example:false', 's3@spam.example:false', 's4@spam.example:true',
      'c@spam.example.com:true', 'd@notspam.example:true', 'e@sub.spam.example:true', 'o@other.example:true',
    ]);
    expect(await follows()).toEqual(['alice>c@spam.example.com', 's1@spam.example>o@other.example']);
    const audit = await listAudit(h.db);
    expect(audit.map((a) => [a.verb, a.targetNickname, a.actor, a.reason, a.details])).toEqual([
      ['deactivate_all_from_instance', 's1@spam.example', 'root', 'spam', { instance: 'spam.example', batch: 1, active: false }],
      ['deactivate_all_from_instance', 'S2@Spam.Example', 'root', 'spam', { instance: 'spam.example', batch: 1, active: false }],
    ]);
  });

  test('a malformed host is a usage error; an unknown one is nothing to do', async () => {
    await expect(planDeactivateInstance(h.db, 'spam.example/%')).rejects.toThrow(UsageError);
    await expect(planDeactivateInstance(h.db, '%')).rejects.toThrow(UsageError);
    expect(await planDeactivateInstance(h.db, 'quiet.example')).toEqual({ instance: 'quiet.example', users: 0, follows: 0, sample: [] });
  });

  test('statements grow with batches, not with users; a re-run after an interruption finishes', async () => {
    async function statementsFor(n: number, batchSize: number): Promise<number> {
      await truncateAll(h);
      await seedUsers(h.db, 'u', n, '@bulk.example');
      const counted = countQueries(h.db);
      const result = await deactivateInstance({ ...ctx(), db: counted.db }, { instance: 'bulk.example', users: n }, { batchSize });
      expect(result.deactivated).toBe(n);
      return counted.count();
    }
    const few = await statementsFor(30, 10);
    expect(await statementsFor(3000, 1000)).toBe(few);
    expect(await statementsFor(50, 10)).toBeGreaterThan(few);

    await truncateAll(h);
    await seedUsers(h.db, 'u', 25, '@bulk.example');
    const controller = new AbortController();
    const run = deactivateInstance(ctx(), { instance: 'bulk.example', users: 25 }, { batchSize: 10 }, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toThrow(InterruptedError);
    expect((await planDeactivateInstance(h.db, 'bulk.example')).users).toBe(15);
    expect((await deactivateInstance(ctx(), { instance: 'bulk.example', users: 15 }, { batchSize: 10 })).deactivated).toBe(15);
    expect((await planDeactivateInstance(h.db, 'bulk.example')).users).toBe(0);
  });
});
