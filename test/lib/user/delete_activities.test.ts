import { libContext, truncateAll, useOpenTestDatabase } from '../../helpers/backend';
import { countQueries } from '../../helpers/query-counter';
import { seedActivities, seedUser } from '../../helpers/seed-users';
import { tableCounts } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import { deleteActivities, planDeleteActivities } from '../../../lib/user/delete_activities';
import { listAudit } from '../../../lib/audit/audit';
import { InterruptedError, NotFoundError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const T0 = new Date('2030-01-10T12:00:00.000Z');
const ctx = () => libContext(h, { now: () => T0, actor: 'root', reason: 'spam' });

describe('delete_activities', () => {
  let alice: number;
  beforeEach(async () => {
    alice = await seedUser(h.db, { nickname: 'alice' });
    await seedActivities(h.db, alice, 25);
    await seedActivities(h.db, await seedUser(h.db, { nickname: 'bob' }), 3);
  });

  test("plans with a count, deletes only that user's activities in batches, an audit row per batch", async () => {
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
    const run = deleteActivities(
      ctx(),
      { id: alice, nickname: 'alice', activities: 25 },
      { batchSize: 10 },
      { signal: controller.signal, onProgress: () => controller.abort() },
    );
    await expect(run).rejects.toThrow(new InterruptedError('interrupted after 10 rows in 1 batch; every finished batch is saved, re-run to finish the rest'));
    expect((await tableCounts(h.db)).activities).toBe(18);
    expect(await deleteActivities(ctx(), { id: alice, nickname: 'alice', activities: 15 }, { batchSize: 10 })).toMatchObject({ deleted: 15 });
  });

  test('remote or missing: "No local user X"', async () => {
    await seedUser(h.db, { nickname: 'far@remote.example' });
    await expect(planDeleteActivities(ctx(), 'far@remote.example')).rejects.toThrow(new NotFoundError('No local user far@remote.example'));
  });
});
