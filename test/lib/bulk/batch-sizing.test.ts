import { sql } from 'kysely';
import { useOpenTestDatabase } from '../../helpers/backend';
import { nextBatchSize, runInBatches } from '../../../lib/bulk/batches';
import type { DbHandle } from '../../../lib/db/db';

// The batch runner's adaptive size and its before-batch hook (used by import to hash passwords
// outside the transaction).
describe('nextBatchSize', () => {
  test('shrinks in proportion (with margin) when a batch overran the target, never under the minimum', () => {
    expect(nextBatchSize(5000, 2000, 1000, 100, 5000)).toBe(2000);
    expect(nextBatchSize(5000, 100000, 1000, 100, 5000)).toBe(100);
  });
  test('doubles when far under the target, up to the maximum; otherwise stays', () => {
    expect(nextBatchSize(5000, 100, 1000, 100, 20000)).toBe(10000);
    expect(nextBatchSize(15000, 100, 1000, 100, 20000)).toBe(20000);
    expect(nextBatchSize(5000, 100, 1000, 100, 5000)).toBe(5000);
    expect(nextBatchSize(5000, 600, 1000, 100, 20000)).toBe(5000);
  });
  test('grows up to fourfold when far under: to about a quarter of the target, never less than double', () => {
    expect(nextBatchSize(5000, 10, 1000, 100, 100000)).toBe(20000);
    expect(nextBatchSize(5000, 0, 1000, 100, 100000)).toBe(20000);
    expect(nextBatchSize(5000, 80, 1000, 100, 100000)).toBe(15000);
    expect(nextBatchSize(5000, 200, 1000, 100, 100000)).toBe(10000);
    expect(nextBatchSize(40000, 10, 1000, 100, 100000)).toBe(100000);
  });
});

describe('runInBatches sizing', () => {
  let h: DbHandle;
  useOpenTestDatabase((_tdb, handle) => (h = handle));
  beforeEach(async () => {
    await sql`INSERT INTO users (nickname, name, confirmed) SELECT 'u' || g, 'u', false FROM generate_series(1, 1000) g`.execute(h.db);
  });

  const confirm = (trx: Parameters<Parameters<typeof runInBatches>[2]>[0], n: number) =>
    sql`UPDATE users SET confirmed = true WHERE id IN (SELECT id FROM users WHERE NOT confirmed ORDER BY id LIMIT ${n})`
      .execute(trx)
      .then((r) => Number(r.numAffectedRows));

  test('a batch slower than the target makes the next ones smaller, and the run still finishes every row', async () => {
    const limits: number[] = [];
    const result = await runInBatches(h.db, { batchSize: 400, targetBatchMs: 30, minBatchSize: 50 }, async (trx, limit) => {
      limits.push(limit);
      const n = await confirm(trx, limit);
      if (limits.length === 1) await new Promise((r) => setTimeout(r, 120)); // the first batch holds its locks too long
      return n;
    });
    expect(limits[0]).toBe(400);
    expect(limits[1]).toBeLessThan(400);
    expect(limits[1]).toBeGreaterThanOrEqual(50);
    expect(result.affected).toBe(1000);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE confirmed`.execute(h.db);
    expect(rows[0].n).toBe(1000);
  });

  test('fast batches grow up to maxBatchSize; without it the size never grows', async () => {
    const grown: number[] = [];
    await runInBatches(h.db, { batchSize: 100, maxBatchSize: 400, targetBatchMs: 60000 }, async (trx, limit) => {
      grown.push(limit);
      return confirm(trx, limit);
    });
    // Far under the target: fourfold, then capped.
    expect(grown).toEqual([100, 400, 400, 400]);
    await sql`UPDATE users SET confirmed = false`.execute(h.db);
    const fixed: number[] = [];
    await runInBatches(h.db, { batchSize: 300, targetBatchMs: 60000 }, async (trx, limit) => {
      fixed.push(limit);
      return confirm(trx, limit);
    });
    expect(fixed).toEqual([300, 300, 300, 300]);
  });

  test("beforeBatch runs before each transaction opens, with that batch's size and number", async () => {
    const events: string[] = [];
    await runInBatches(h.db, { batchSize: 400, beforeBatch: async (limit, n) => void events.push(`before ${n} ${limit}`) }, async (trx, limit, n) => {
      const { rows } = await sql<{ open: boolean }>`SELECT now() = statement_timestamp() AS open`.execute(trx);
      events.push(`step ${n} ${rows.length}`);
      return confirm(trx, limit);
    });
    expect(events).toEqual(['before 1 400', 'step 1 1', 'before 2 400', 'step 2 1', 'before 3 400', 'step 3 1']);
  });
});

describe('runInBatches and Ctrl-C', () => {
  test('an abort that arrives as a macrotask (a signal handler) is seen between batches, even when no batch waits on I/O', async () => {
    // A database whose transactions never leave the microtask queue, as on PGlite.
    const fakeDb = { transaction: () => ({ execute: <T>(fn: (trx: unknown) => Promise<T>) => fn({}) }) } as unknown as Parameters<typeof runInBatches>[0];
    const controller = new AbortController();
    let batches = 0;
    const run = runInBatches(fakeDb, { batchSize: 10, signal: controller.signal }, async (_trx, limit) => {
      batches += 1;
      if (batches === 1) setImmediate(() => controller.abort());
      return batches >= 1000 ? 0 : limit;
    });
    await expect(run).rejects.toThrow('interrupted after 10 rows in 1 batch; every finished batch is saved, re-run to finish the rest');
    expect(batches).toBe(1);
  });
});
