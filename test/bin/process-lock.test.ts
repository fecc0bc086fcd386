import * as path from 'node:path';
import { BACKEND, type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { passwordCsv, runCtl, startCtl, useTempDir } from '../helpers/cli';
import { nicknamesConfirmed, seedBulkConfirmUsers } from '../helpers/cli-scenarios';

// One run at a time, between processes: a second bin/ctl is refused while another holds the
// job (the advisory lock on a server) or the embedded database (its data-directory lock).

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

let dir: string;
useTempDir('userctl-bin-', (d) => (dir = d));

const start = (args: readonly string[], env: Record<string, string> = {}) => startCtl(tdb, args, env);
const passwordFile = (name: string, rows: number, prefix = 'p') => passwordCsv(dir, name, rows, prefix);
// Cost 8 (~15 ms a hash, two worker threads) and 10 users a batch: each batch takes a while, and
// the signal comes as soon as the first batch is reported, so the run is always caught mid-way.
const SLOW = { CTL_BCRYPT_COST: '8' };
const userCount = () => tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('id').execute()).length);

const withConfirmation = (confirmed: boolean) => tdb.withDb(({ db }) => nicknamesConfirmed(db, confirmed));
const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);

test('a second import while one runs is refused: the advisory lock on a server, the data-directory lock on PGlite', async () => {
  const first = start(['user', 'import', passwordFile('one.csv', 60, 'a'), '--batch-size', '10', '--format', 'ndjson'], SLOW);
  await first.waitFor(/"status":"created"/);
  // Frozen mid-run, the first process keeps its lock however long the second one takes to start.
  first.child.kill('SIGSTOP');
  try {
    const second = await runCtl(tdb, ['user', 'import', passwordFile('two.csv', 3, 'b')], { env: { CTL_LOCK_WAIT_MS: '0' } });
    if (BACKEND === 'postgres') {
      expect(second).toMatchObject({ code: 4, stdout: '', stderr: 'another import is already running\n' });
    } else {
      expect(second.code).toBe(6);
      expect(second.stderr).toMatch(/^the embedded database in .* is busy: another ctl process \(pid \d+\) is using it; try again when it has finished\n$/);
    }
  } finally {
    first.child.kill('SIGCONT');
  }
  expect((await first.done).code).toBe(0);
  expect(await userCount()).toBe(60);
  // The lock went with the first run: the second import now goes through.
  const later = await runCtl(tdb, ['user', 'import', path.join(dir, 'two.csv')], { env: { CTL_BCRYPT_COST: '4' } });
  expect(later).toMatchObject({ code: 0, stdout: 'Created: 3, Skipped: 0, Failed: 0\n' });
});

// On a server the job's advisory lock is what refuses confirm_all (test/tasks/user/confirm_all.test.ts).
if (BACKEND === 'pglite')
  test('confirm_all while another process holds the embedded database: it waits, then exit 6', async () => {
    await tdb.withDb(({ db }) => seedBulkConfirmUsers(db, false));
    // The embedded database admits one process at a time: the second waits, then exit 6.
    const held = await tdb.open();
    try {
      const r = await ctl(['user', 'confirm_all', '-y'], { env: { CTL_LOCK_WAIT_MS: '200' } });
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/is busy: another ctl process \(pid \d+\) is using it; try again when it has finished\n$/);
    } finally {
      await held.close();
    }
    expect(await withConfirmation(true)).toEqual([]);
  });
