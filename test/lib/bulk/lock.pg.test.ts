// The single-run lock of the bulk verbs on a server: directly, and through PgBouncer in
// transaction pooling mode, where a session-level advisory lock stays behind on whichever server
// connection ran the statement that took it, and the next client to get that connection holds it
// too (test/helpers/pgbouncer.ts hands its two server connections out in turn).
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/backend';
import { usePgBouncer, type PgBouncer } from '../../helpers/pgbouncer';
import { openDatabase, type DbHandle } from '../../../lib/db/db';
import { withBulkLock } from '../../../lib/bulk/lock';
import { ConflictError } from '../../../lib/errors';
import { isConnectionLoss } from '../../../lib/db/pg-errors';

let tdb: TestDatabase;
let bouncer: PgBouncer;
let monitor: Client;
usePgBouncer((b) => (bouncer = b));
beforeAll(async () => {
  tdb = await createTestDatabase();
  monitor = new Client({ connectionString: tdb.url! });
  await monitor.connect();
});
afterAll(async () => {
  await monitor?.end();
  await tdb?.destroy();
});

const open = (through: 'direct' | 'pgbouncer'): Promise<DbHandle> =>
  openDatabase({ databaseUrl: through === 'direct' ? tdb.url : bouncer.url(tdb.url!), dataDir: '', lockWaitMs: 1000, schema: 'auto' });

/** Advisory locks held on the test database, seen from the server itself. */
async function advisoryLocks(): Promise<number> {
  const { rows } = await monitor.query(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND a.datname = current_database()`,
  );
  return rows[0].n;
}

describe.each(['direct', 'pgbouncer'] as const)('%s', (through) => {
  let a: DbHandle;
  let b: DbHandle;
  beforeAll(async () => {
    a = await open(through);
    b = await open(through);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  test('while one run holds the lock, every other attempt is refused, other jobs are not; afterwards it is free', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const first = withBulkLock(a.db, 'confirm_all', async () => {
      entered();
      await held;
      return 'first';
    });
    try {
      await inside;
      // Several attempts, from a second pool and from the holder's own: through PgBouncer each may
      // land on any server connection, the holder's included.
      for (const db of [b.db, b.db, a.db, b.db, a.db, b.db]) {
        await expect(withBulkLock(db, 'confirm_all', async () => 'second')).rejects.toThrow(new ConflictError('another confirm_all is already running'));
      }
      await expect(withBulkLock(b.db, 'unconfirm_all', async () => 'other job')).resolves.toBe('other job');
    } finally {
      release();
    }
    await expect(first).resolves.toBe('first');
    expect(await advisoryLocks()).toBe(0);
    for (const db of [a.db, b.db, a.db, b.db]) await expect(withBulkLock(db, 'confirm_all', async () => 'again')).resolves.toBe('again');
    expect(await advisoryLocks()).toBe(0);
  });

  test('a job that fails or is refused leaves no lock behind', async () => {
    await expect(withBulkLock(a.db, 'purge_deleted', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await advisoryLocks()).toBe(0);
    await expect(withBulkLock(b.db, 'purge_deleted', async () => 'next')).resolves.toBe('next');
  });

  test('the lock goes with its server connection: a lost one stops the job at its next check, and the next run gets in', async () => {
    const run = withBulkLock(a.db, 'delete_activities', async (_db, lock) => {
      await lock.check();
      const { rows } = await monitor.query(
        `SELECT pg_terminate_backend(l.pid) AS ok FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE l.locktype = 'advisory' AND s.datname = current_database()`,
      );
      expect(rows).toEqual([{ ok: true }]);
      for (let i = 0; i < 50; i++) {
        await lock.check();
        await new Promise((r) => setTimeout(r, 20));
      }
      return 'never';
    });
    const error = await run.catch((e: unknown) => e);
    expect(isConnectionLoss(error)).toBe(true);
    expect(await advisoryLocks()).toBe(0);
    await expect(withBulkLock(b.db, 'delete_activities', async () => 'rerun')).resolves.toBe('rerun');
  });
});

describe('direct, idle between batches', () => {
  test('the lock’s open transaction holds no snapshot and no transaction id, and ignores idle_in_transaction_session_timeout', async () => {
    const name = new URL(tdb.url!).pathname.slice(1);
    await monitor.query(`ALTER DATABASE "${name}" SET idle_in_transaction_session_timeout = '100ms'`);
    const h = await open('direct');
    try {
      const seen = await withBulkLock(h.db, 'import', async (db, lock) => {
        await db.selectFrom('users').select('id').execute();
        // Idle well past the server's timeout, as between two slow batches.
        await new Promise((r) => setTimeout(r, 400));
        await lock.check();
        const { rows } = await monitor.query(
          `SELECT s.backend_xmin::text AS xmin, s.backend_xid::text AS xid, s.state FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE l.locktype = 'advisory' AND s.datname = current_database()`,
        );
        return rows;
      });
      expect(seen).toEqual([{ xmin: null, xid: null, state: 'idle in transaction' }]);
    } finally {
      await h.close();
      await monitor.query(`ALTER DATABASE "${name}" RESET idle_in_transaction_session_timeout`);
    }
  });
});
