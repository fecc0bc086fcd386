// The statements rewritten for speed (issue 5) pick exactly the rows the old ones did: range
// deletes of activities, the follows of an instance's users with local users, the counts a purge
// shows, list pages, JSON text, and the one last-admin guard of set, rm and deactivate.
import { sql } from 'kysely';
import { BACKEND, libContext, TEST_SETTINGS, type TestDatabase, useOpenTestDatabase } from '../../helpers/backend';
import { idOf, seedFollow, seedToken, seedUser, seedUsers } from '../../helpers/seed-users';
import { tableCounts } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import { deleteActivities } from '../../../lib/user/delete_activities';
import { deactivateInstance, planDeactivateInstance } from '../../../lib/user/deactivate_all_from_instance';
import { planPurgeDeleted, planPurgeUser, purgeCutoff, purgeDeleted, purgeUser } from '../../../lib/user/purge';
import { softDeleteUser } from '../../../lib/user/rm';
import { deactivateUser } from '../../../lib/user/activate';
import { setUser } from '../../../lib/user/set';
import { listUsers } from '../../../lib/user/list';
import type { UserJson } from '../../../lib/user/present';
import { listAudit } from '../../../lib/audit/audit';
import { jsonReplacer, rowEncoder, toJsonText } from '../../../tasks/runner/formats';
import { ConflictError, InterruptedError } from '../../../lib/errors';
import { runInBatches } from '../../../lib/bulk/batches';
import { activityDeleter } from '../../../lib/bulk/sql';

let tdb: TestDatabase;
let h: DbHandle;
useOpenTestDatabase((d, handle) => {
  tdb = d;
  h = handle;
});

const T0 = new Date('2030-01-10T12:00:00.000Z');
const ctx = () => libContext(h, { now: () => T0, actor: 'root', reason: null });

/** Activities of the actors in turn (a, b, a, b, ...), so every actor's ids are interleaved with the others'. */
async function interleaveActivities(actors: readonly number[], each: number): Promise<void> {
  await sql`
    INSERT INTO activities (actor_id, type, object)
    SELECT (${sql.val([...actors])}::bigint[])[1 + (g % ${actors.length})], 'Create', 'n' || g
    FROM generate_series(0, ${actors.length * each - 1}) g ORDER BY g`.execute(h.db);
}

async function activityIds(actorId: number): Promise<number[]> {
  const rows = await h.db.selectFrom('activities').select('id').where('actor_id', '=', actorId).orderBy('id').execute();
  return rows.map((r) => r.id);
}

describe('activities go in id order, a bounded range at a time, and only the actor’s', () => {
  test('delete_activities: the oldest first, other actors untouched, one audit row per batch', async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    const bob = await seedUser(h.db, { nickname: 'bob' });
    await interleaveActivities([alice, bob], 7);
    const aliceIds = await activityIds(alice);
    const bobIds = await activityIds(bob);

    const controller = new AbortController();
    const run = deleteActivities(
      ctx(),
      { id: alice, nickname: 'alice', activities: 7 },
      { batchSize: 3 },
      { signal: controller.signal, onProgress: () => controller.abort() },
    );
    await expect(run).rejects.toThrow(InterruptedError);
    // One batch went: exactly alice's three oldest.
    expect(await activityIds(alice)).toEqual(aliceIds.slice(3));
    expect(await activityIds(bob)).toEqual(bobIds);

    expect(await deleteActivities(ctx(), { id: alice, nickname: 'alice', activities: 4 }, { batchSize: 3 })).toEqual({
      id: alice,
      nickname: 'alice',
      deleted: 4,
      batches: 2,
    });
    expect(await activityIds(alice)).toEqual([]);
    expect(await activityIds(bob)).toEqual(bobIds);
    expect((await listAudit(h.db)).map((a) => [a.verb, a.targetUserId, a.details])).toEqual([
      ['delete_activities', alice, { batch: 1, activities: 3 }],
      ['delete_activities', alice, { batch: 1, activities: 3 }],
      ['delete_activities', alice, { batch: 2, activities: 1 }],
    ]);
  });

  test('batches commit without waiting for the flush, and the setting ends with each batch', async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    await interleaveActivities([alice], 5);
    const seen: string[] = [];
    await runInBatches(h.db, { batchSize: 2, asyncCommit: true }, async (trx, limit) => {
      const { rows } = await sql<{ synchronous_commit: string }>`SHOW synchronous_commit`.execute(trx);
      seen.push(rows[0].synchronous_commit);
      const r = await sql`DELETE FROM activities WHERE id IN (SELECT id FROM activities ORDER BY id LIMIT ${limit})`.execute(trx);
      return Number(r.numAffectedRows);
    });
    expect(seen).toEqual(['off', 'off', 'off']);
    const { rows } = await sql<{ synchronous_commit: string }>`SHOW synchronous_commit`.execute(h.db);
    expect(rows[0].synchronous_commit).toBe('on');
    expect(await activityIds(alice)).toEqual([]);
  });

  test('in step: full batches commit without the flush, the short last one with it, and it says so', async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    const bob = await seedUser(h.db, { nickname: 'bob' });
    await interleaveActivities([alice, bob], 5);
    const bobIds = await activityIds(bob);
    const deleteNext = activityDeleter((eb) => eb('activities.actor_id', '=', alice));
    const seen: { setting: string; affected: number; durable: boolean }[] = [];
    await runInBatches(h.db, { batchSize: 2, asyncCommit: 'in-step' }, async (trx, limit) => {
      const step = await deleteNext(trx, limit);
      const { rows } = await sql<{ synchronous_commit: string }>`SHOW synchronous_commit`.execute(trx);
      seen.push({ setting: rows[0].synchronous_commit, affected: step.affected, durable: step.durable });
      return step;
    });
    expect(seen).toEqual([
      { setting: 'off', affected: 2, durable: false },
      { setting: 'off', affected: 2, durable: false },
      { setting: 'on', affected: 1, durable: true },
    ]);
    expect(await activityIds(alice)).toEqual([]);
    expect(await activityIds(bob)).toEqual(bobIds);
  });

  test('a batch size that divides the count: one last empty batch, no audit row for it', async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    const bob = await seedUser(h.db, { nickname: 'bob' });
    await interleaveActivities([bob, alice], 6);
    expect(await deleteActivities(ctx(), { id: alice, nickname: 'alice', activities: 6 }, { batchSize: 3 })).toEqual({
      id: alice,
      nickname: 'alice',
      deleted: 6,
      batches: 3,
    });
    expect((await listAudit(h.db)).map((a) => a.details)).toEqual([
      { batch: 1, activities: 3 },
      { batch: 2, activities: 3 },
    ]);
    expect(await activityIds(bob)).toHaveLength(6);
  });

  test('quick batches grow up to maxBatchSize, never past it, and each goes on after the last', async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    const bob = await seedUser(h.db, { nickname: 'bob' });
    await interleaveActivities([alice, bob], 30);
    const bobIds = await activityIds(bob);
    const result = await deleteActivities(ctx(), { id: alice, nickname: 'alice', activities: 30 }, { batchSize: 2, maxBatchSize: 8 });
    expect(result.deleted).toBe(30);
    expect(await activityIds(alice)).toEqual([]);
    expect(await activityIds(bob)).toEqual(bobIds);
    const sizes = (await listAudit(h.db)).map((a) => (a.details as { activities: number }).activities);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
    expect(sizes[0]).toBe(2);
    expect(Math.max(...sizes)).toBe(8);
    // 2, 4, 8, 8, 8 when every batch is quick; without growth it would take 15 batches.
    expect(sizes.length).toBeLessThan(15);
  });

  test('a fixed batch size (maxBatchSize equal to it) never grows', async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    await interleaveActivities([alice], 9);
    expect(await deleteActivities(ctx(), { id: alice, nickname: 'alice', activities: 9 }, { batchSize: 2, maxBatchSize: 2 })).toEqual({
      id: alice,
      nickname: 'alice',
      deleted: 9,
      batches: 5,
    });
  });

  test('rm --purge: the counts shown, then the activities in batches and the rest; others keep theirs', async () => {
    const heavy = await seedUser(h.db, { nickname: 'heavy' });
    const bob = await seedUser(h.db, { nickname: 'bob' });
    const carol = await seedUser(h.db, { nickname: 'carol' });
    await interleaveActivities([heavy, bob], 5);
    await seedFollow(h.db, heavy, bob);
    await seedFollow(h.db, bob, heavy);
    await seedFollow(h.db, carol, heavy);
    await seedFollow(h.db, heavy, heavy); // in both halves of the count: counted once
    await seedFollow(h.db, bob, carol);
    await seedToken(h.db, heavy, 'access');
    const plan = await planPurgeUser(ctx(), 'heavy');
    expect(plan.counts).toEqual({ users: 1, activities: 5, follows: 4, tokens: 1 });
    const result = await purgeUser(ctx(), 'heavy', { ...TEST_SETTINGS, batchSize: 2 });
    expect(result).toEqual({ id: heavy, nickname: 'heavy', deleted: plan.counts, batches: 3 });
    expect(await activityIds(bob)).toHaveLength(5);
    expect(await tableCounts(h.db)).toMatchObject({ users: 2, activities: 5, follows: 1, tokens: 0 });
  });

  test('purge_deleted: the activities of every account in scope, and only theirs; a follow between two of them counts once', async () => {
    const old = new Date(T0.getTime() - 200 * 86400e3);
    const gone1 = await seedUser(h.db, { nickname: 'gone1', deletedAt: old, active: false });
    const live = await seedUser(h.db, { nickname: 'live' });
    const gone2 = await seedUser(h.db, { nickname: 'gone2', deletedAt: old, active: false });
    const recent = await seedUser(h.db, { nickname: 'recent', deletedAt: new Date(T0.getTime() - 86400e3), active: false });
    await interleaveActivities([gone1, live, gone2, recent], 4);
    await seedFollow(h.db, gone1, gone2);
    await seedFollow(h.db, gone2, live);
    await seedFollow(h.db, live, recent);
    const cutoff = purgeCutoff(T0, TEST_SETTINGS);
    const plan = await planPurgeDeleted(ctx(), cutoff);
    expect(plan.counts).toEqual({ users: 2, activities: 8, follows: 2, tokens: 0 });
    const result = await purgeDeleted(ctx(), cutoff, { batchSize: 3 });
    expect(result.deleted).toEqual(plan.counts);
    expect(await activityIds(live)).toHaveLength(4);
    expect(await activityIds(recent)).toHaveLength(4);
    expect((await listAudit(h.db, { verb: 'purge_deleted' })).filter((a) => a.targetNickname === null).map((a) => a.details)).toEqual([
      { stage: 'activities', cutoff: cutoff.toISOString(), batch: 1, activities: 3 },
      { stage: 'activities', cutoff: cutoff.toISOString(), batch: 2, activities: 3 },
      { stage: 'activities', cutoff: cutoff.toISOString(), batch: 3, activities: 2 },
    ]);
  });
});

describe('deactivate_all_from_instance: the follows with local users, both directions', () => {
  test('counted as shown, then removed batch by batch; remote-only follows stay', async () => {
    const alice = await seedUser(h.db, { nickname: 'alice' });
    const bob = await seedUser(h.db, { nickname: 'bob' });
    await seedUsers(h.db, 's', 5, '@spam.example');
    const s = await Promise.all([1, 2, 3, 4, 5].map((i) => idOf(h.db, `s${i}@spam.example`)));
    const other = await seedUser(h.db, { nickname: 'x@other.example' });
    const gone = await seedUser(h.db, { nickname: 'off@spam.example', active: false });
    await seedFollow(h.db, s[0], alice); // counted: spam -> local
    await seedFollow(h.db, alice, s[0]); // counted: local -> spam
    await seedFollow(h.db, bob, s[4]); // counted, in the second batch
    await seedFollow(h.db, s[4], bob); // counted, in the second batch
    await seedFollow(h.db, s[1], s[2]); // two remote users: stays
    await seedFollow(h.db, s[3], other); // remote elsewhere: stays
    await seedFollow(h.db, gone, alice); // not an active user of the instance: stays
    await seedFollow(h.db, alice, bob); // local only: stays
    const plan = await planDeactivateInstance(h.db, 'spam.example');
    expect(plan).toEqual({
      instance: 'spam.example',
      users: 5,
      follows: 4,
      sample: ['s1@spam.example', 's2@spam.example', 's3@spam.example', 's4@spam.example', 's5@spam.example'],
    });
    const result = await deactivateInstance(ctx(), plan, { batchSize: 3 });
    expect(result).toEqual({ instance: 'spam.example', deactivated: 5, unfollowed: 4, revokedSessions: 0, batches: 2 });
    const { rows } = await sql<{ pair: string }>`
      SELECT a.nickname || '>' || b.nickname AS pair FROM follows f
      JOIN users a ON a.id = f.follower_id JOIN users b ON b.id = f.following_id ORDER BY 1`.execute(h.db);
    expect(rows.map((r) => r.pair)).toEqual(['alice>bob', 'off@spam.example>alice', 's2@spam.example>s3@spam.example', 's4@spam.example>x@other.example']);
  });
});

describe('list pages and JSON text', () => {
  test('every page keeps its rows after the next one is read; a limit across pages', async () => {
    await seedUsers(h.db, 'u', 5);
    const pages: UserJson[][] = [];
    for await (const page of listUsers(h.db, { limit: 5 }, 2)) pages.push(page);
    expect(pages.map((p) => p.map((u) => u.nickname))).toEqual([['u1', 'u2'], ['u3', 'u4'], ['u5']]);
    expect(pages[0][0]).toMatchObject({ id: 1, createdAt: expect.any(Date), deletedAt: null, tags: [] });
  });

  test('toJsonText is JSON.stringify with the bigint replacer, whatever the value', () => {
    const values: unknown[] = [
      { id: 1, at: new Date(0), none: null, gone: undefined, tags: ['a'], big: 12n, nested: { n: [1n, 'x\u2028"'] } },
      { at: new Date(Number.NaN), n: Number.NaN, inf: -Infinity, f: () => 1 },
      [1, undefined, 2n],
      'text',
      7n,
      null,
    ];
    for (const value of values) {
      expect(toJsonText(value)).toBe(JSON.stringify(value, jsonReplacer));
      expect(toJsonText(value, 2)).toBe(JSON.stringify(value, jsonReplacer, 2));
    }
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => toJsonText(circular)).toThrow(TypeError);
  });

  test('ndjson and json pages are the same text as before', () => {
    const rows = [
      { id: 1n, at: new Date(5) },
      { id: 2, at: null },
    ];
    const nd = rowEncoder('ndjson', [], (r) => r);
    expect(nd.page(rows) + nd.end()).toBe('{"id":1,"at":"1970-01-01T00:00:00.005Z"}\n{"id":2,"at":null}\n');
    const json = rowEncoder('json', [], (r) => r);
    expect(json.page(rows.slice(0, 1)) + json.page(rows.slice(1)) + json.end()).toBe('[\n{"id":1,"at":"1970-01-01T00:00:00.005Z"},\n{"id":2,"at":null}\n]\n');
  });
});

describe('one last-admin guard for set --no-admin, rm and deactivate', () => {
  test('set --no-admin refuses the last active admin, in a dry run too, and demotes when another is left', async () => {
    await seedUser(h.db, { nickname: 'root', admin: true });
    const message = 'refusing to remove admin status from root: it is the last active admin (make another user admin first: ctl user set <user> --admin)';
    await expect(setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS)).rejects.toThrow(new ConflictError(message));
    await expect(setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS, { dryRun: true })).rejects.toThrow(new ConflictError(message));
    await seedUser(h.db, { nickname: 'other', admin: true });
    expect((await setUser(ctx(), 'root', { admin: false }, TEST_SETTINGS)).user.admin).toBe(false);
    await expect(setUser(ctx(), 'other', { admin: false }, TEST_SETTINGS)).rejects.toThrow(new ConflictError(message.replace('root', 'other')));
  });

  // Two connections racing on the last two admins: on PGlite there is only one.
  (BACKEND === 'postgres' ? test : test.skip)(
    'demoting one admin while deactivating or deleting the other: one wins, the other is refused, never a deadlock',
    async () => {
      const second = await tdb.open();
      try {
        for (const other of ['deactivate', 'rm'] as const) {
          for (let round = 0; round < 5; round++) {
            await sql`TRUNCATE users, tokens, activities, follows, audit_log RESTART IDENTITY CASCADE`.execute(h.db);
            await seedUser(h.db, { nickname: 'a1', admin: true });
            await seedUser(h.db, { nickname: 'a2', admin: true });
            const c2 = libContext(second, { now: () => T0, actor: 'root' });
            const outcomes = await Promise.allSettled([
              setUser(ctx(), 'a1', { admin: false }, TEST_SETTINGS),
              other === 'deactivate' ? deactivateUser(c2, 'a2') : softDeleteUser(c2, 'a2', TEST_SETTINGS),
            ]);
            const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason);
            expect(failures).toHaveLength(1);
            expect(failures[0]).toBeInstanceOf(ConflictError);
            expect(String(failures[0].message)).toMatch(/: it is the last active admin/);
            const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE admin AND active AND deleted_at IS NULL`.execute(h.db);
            expect(rows[0].n).toBe(1);
          }
        }
      } finally {
        await second.close();
      }
    },
  );
});
