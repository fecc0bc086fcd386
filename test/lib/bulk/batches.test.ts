import { sql } from 'kysely';
import { BACKEND, useOpenTestDatabase } from '../../helpers/backend';
import { countQueries } from '../../helpers/query-counter';
import { runInBatches } from '../../../lib/bulk/batches';
import { withBulkLock } from '../../../lib/bulk/lock';
import { InterruptedError } from '../../../lib/errors';
import type { DbHandle } from '../../../lib/db/db';

let h: DbHandle;
useOpenTestDatabase((_, handle) => {
  h = handle;
});
beforeEach(async () => {
  await sql`INSERT INTO users (nickname, name, confirmed) SELECT 'u' || g, 'u', false FROM generate_series(1, 2500) g`.execute(h.db);
});

const confirmSome = (limit: number) =>
  withBulkLock(h.db, 'test_job', (conn) =>
    runInBatches(conn, { batchSize: limit }, async (trx, n) => {
      const r = await sql`UPDATE users SET confirmed = true WHERE id IN (SELECT id FROM users WHERE NOT confirmed ORDER BY id LIMIT ${n})`.execute(trx);
      return Number(r.numAffectedRows);
    }),
  );

test('batches until a short one, one transaction each, statements growing with batches', async () => {
  const counted = countQueries(h.db);
  const progress: number[] = [];
  const result = await withBulkLock(counted.db, 'job', (conn) =>
    runInBatches(conn, { batchSize: 1000, onProgress: (p) => progress.push(p.done) }, async (trx, n) => {
      const r = await sql`UPDATE users SET confirmed = true WHERE id IN (SELECT id FROM users WHERE NOT confirmed ORDER BY id LIMIT ${n})`.execute(trx);
      return Number(r.numAffectedRows);
    }),
  );
  expect(result).toEqual({ batches: 3, affected: 2500 });
  expect(progress).toEqual([1000, 2000, 2500]);
  // 3 updates, and on a server the lock (BEGIN/ROLLBACK are not queries to Kysely's plugins)
  expect(counted.count()).toBe(BACKEND === 'postgres' ? 1 + 3 : 3);
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE confirmed`.execute(h.db);
  expect(rows[0].n).toBe(2500);
});

test('a batch that changed fewer rows than it looked at does not end the job; only a short look does', async () => {
  const looked: number[] = [];
  const result = await runInBatches(h.db, { batchSize: 1000 }, async (trx, n) => {
    const { rows } = await sql<{ id: number }>`SELECT id FROM users WHERE NOT confirmed ORDER BY id LIMIT ${n}`.execute(trx);
    // Every tenth row already gone (another job got there first): changed < looked at.
    const ids = rows.map((r) => r.id).filter((id) => id % 10 !== 0);
    await sql`UPDATE users SET confirmed = true WHERE id = ANY(${ids}::bigint[])`.execute(trx);
    await sql`UPDATE users SET confirmed = true WHERE id = ANY(${rows.map((r) => r.id)}::bigint[]) AND id % 10 = 0`.execute(trx);
    looked.push(rows.length);
    return { scanned: rows.length, affected: ids.length };
  });
  expect(looked).toEqual([1000, 1000, 500]);
  expect(result).toEqual({ batches: 3, affected: 2250 });
});

test('batches grow while quick, up to maxBatchSize', async () => {
  const limits: number[] = [];
  const result = await runInBatches(h.db, { batchSize: 100, maxBatchSize: 800, targetBatchMs: 600_000 }, async (trx, n) => {
    limits.push(n);
    const r = await sql`UPDATE users SET confirmed = true WHERE id IN (SELECT id FROM users WHERE NOT confirmed ORDER BY id LIMIT ${n})`.execute(trx);
    return Number(r.numAffectedRows);
  });
  // Far under the target: fourfold while that stays under the maximum.
  expect(limits).toEqual([100, 400, 800, 800, 800]);
  expect(result).toEqual({ batches: 5, affected: 2500 });
});

test('an aborted signal stops after the current batch with every finished batch saved', async () => {
  const controller = new AbortController();
  const run = runInBatches(h.db, { batchSize: 1000, signal: controller.signal }, async (trx, n, batch) => {
    if (batch === 2) controller.abort();
    const r = await sql`UPDATE users SET confirmed = true WHERE id IN (SELECT id FROM users WHERE NOT confirmed ORDER BY id LIMIT ${n})`.execute(trx);
    return Number(r.numAffectedRows);
  });
  await expect(run).rejects.toThrow(InterruptedError);
  await expect(run).rejects.toThrow('interrupted after 2000 rows in 2 batches');
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE confirmed`.execute(h.db);
  expect(rows[0].n).toBe(2000);
  expect((await confirmSome(1000)).affected).toBe(500);
});

test('a failing batch rolls back alone', async () => {
  const run = runInBatches(h.db, { batchSize: 1000 }, async (trx, n, batch) => {
    await sql`UPDATE users SET confirmed = true WHERE id IN (SELECT id FROM users WHERE NOT confirmed ORDER BY id LIMIT ${n})`.execute(trx);
    if (batch === 2) throw new Error('boom');
    return n;
  });
  await expect(run).rejects.toThrow('boom');
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE confirmed`.execute(h.db);
  expect(rows[0].n).toBe(1000);
});
