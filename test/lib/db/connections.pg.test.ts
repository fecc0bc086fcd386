import type { Client } from 'pg';
import { openDatabase, type OpenOptions } from '../../../lib/db/db';
import { type TestDatabase, useAdminClient, useCliTestDatabase } from '../../helpers/backend';
import { ctl, type HeldTestDatabase } from '../../helpers/in-process';
import { seedUser } from '../../helpers/seed-users';

// A bulk job takes two server connections (its lock's and its batches'): the runner opens both
// at once, so the second's backend start is not paid between the lock and the first batch.

let tdb: TestDatabase;
let admin: Client;
useCliTestDatabase((d) => (tdb = d));
useAdminClient((c) => (admin = c));

async function sessionsOnTestDatabase(): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [
    new URL(tdb.url!).pathname.slice(1),
  ]);
  return rows[0].n;
}

test.each([
  [undefined, 1],
  [2, 2],
])('openDatabase with connections %p leaves %p server connections open and idle', async (connections, open) => {
  const handle = await openDatabase({ databaseUrl: tdb.url, dataDir: '', lockWaitMs: 1000, schema: 'auto', connections });
  try {
    expect(await sessionsOnTestDatabase()).toBe(open);
  } finally {
    await handle.close();
  }
});

test('no more than the pool holds: more would wait for the connect timeout and fail', async () => {
  const handle = await openDatabase({ databaseUrl: tdb.url, dataDir: '', lockWaitMs: 1000, schema: 'auto', connections: 5, poolSize: 2 });
  try {
    expect(await sessionsOnTestDatabase()).toBe(2);
  } finally {
    await handle.close();
  }
});

test('the bulk verbs ask for both connections when they run a job, the others (and dry runs) for one', async () => {
  await tdb.withDb(({ db }) => seedUser(db, { nickname: 'alice' }));
  const asked: (number | undefined)[] = [];
  const spying = { ...tdb, openDatabase: (opts: OpenOptions) => (asked.push(opts.connections), openDatabase(opts)) } as unknown as HeldTestDatabase;
  const runs: [string[], number | undefined][] = [
    [['user', 'show', 'alice'], undefined],
    [['user', 'delete_activities', 'alice', '--dry-run'], undefined],
    [['user', 'delete_activities', 'alice', '-y'], 2],
    [['user', 'confirm_all', '-y'], 2],
    [['user', 'rm', 'alice', '--purge', '--dry-run'], undefined],
    [['user', 'rm', 'alice', '--purge', '-y'], 2],
    // import's dry run checks the file under the job's lock too.
    [['user', 'import', '-', '--input-format', 'csv', '--dry-run'], 2],
  ];
  for (const [args, expected] of runs) {
    asked.length = 0;
    const r = await ctl(spying, args, { input: 'nickname,email\nbob,bob@example.com\n' });
    expect([args.join(' '), r.code, asked]).toEqual([args.join(' '), 0, [expected]]);
  }
});
