import { spawn } from 'node:child_process';
import type { Client } from 'pg';
import { type TestDatabase, useAdminClient, useCliTestDatabase } from '../helpers/backend';
import { seedUser } from '../helpers/seed-users';
import { ROOT, runCtl } from '../helpers/cli';

// bin/ctl lets go of its server connections without waiting for the server to close them (issue
// 17: ~10 ms of every run). Each must still end as a normal disconnect, its Terminate sent: the
// server counts a session whose client just went away in pg_stat_database.sessions_abandoned.

let tdb: TestDatabase;
let admin: Client;
useCliTestDatabase((d) => (tdb = d));
useAdminClient((c) => (admin = c));
beforeEach(() => tdb.withDb(({ db }) => seedUser(db, { nickname: 'alice' })));

const database = () => new URL(tdb.url!).pathname.slice(1);

/** Waits (at most ~10 s) until no session is left on the test's database, then reads its abandoned sessions. */
async function abandonedOnceAllGone(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await admin.query<{ open: number; abandoned: number }>(
      `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE datname = $1) AS open,
        (SELECT sessions_abandoned::int FROM pg_stat_database WHERE datname = $1) AS abandoned`,
      [database()],
    );
    if (rows[0].open === 0) return rows[0].abandoned;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sessions still open on ${database()}`);
}

test('a client that exits without a Terminate counts as abandoned (the check can fail)', async () => {
  const before = await abandonedOnceAllGone();
  const script = `const { Client } = require('pg'); const c = new Client({ connectionString: process.argv[1] });
    c.connect().then(() => c.query('SELECT 1')).then(() => process.exit(0));`;
  const code = await new Promise((resolve) => spawn(process.execPath, ['-e', script, tdb.url!], { cwd: ROOT, stdio: 'ignore' }).on('close', resolve));
  expect(code).toBe(0);
  expect(await abandonedOnceAllGone()).toBe(before + 1);
});

test('every connection of a verb, a bulk one included, ends as a normal disconnect', async () => {
  const before = await abandonedOnceAllGone();
  expect(await runCtl(tdb, ['user', 'show', 'alice'])).toMatchObject({ code: 0, stderr: '' });
  // Two connections: the job's lock and its batches.
  expect(await runCtl(tdb, ['user', 'delete_activities', 'alice', '-y', '-q'])).toMatchObject({ code: 0, stderr: '' });
  expect(await runCtl(tdb, ['user', 'show', 'nobody'])).toMatchObject({ code: 3 });
  expect(await abandonedOnceAllGone()).toBe(before);
});
