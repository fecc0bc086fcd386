import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { CTL, ctlEnv, passwordCsv, runCtl, startCtl, useTempDir } from '../helpers/cli';
import { seedActivities } from '../helpers/seed-users';
import { seedFollowsAndSessions } from '../helpers/cli-scenarios';
import type { DbHandle } from '../../lib/db/db';

// Ctrl-C during a bulk run, through the real bin/ctl: SIGINT to the process mid-run, exit 130,
// how far it got, and a re-run that finishes the job.

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

const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);
const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));

describe('ctl user import', () => {
  test('Ctrl-C during an import: the current batch finishes, exit 130 says how far it got, a re-run completes', async () => {
    const csv = passwordFile('slow.csv', 150);
    const run = start(['user', 'import', csv, '--batch-size', '10', '--format', 'ndjson'], SLOW);
    await run.waitFor(/"status":"created"/);
    run.child.kill('SIGINT');
    const { code } = await run.done;
    expect(code).toBe(130);
    const created = run
      .stdout()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.status === 'created');
    const n = created.length;
    expect(n % 10).toBe(0);
    expect(n).toBeGreaterThanOrEqual(10);
    expect(n).toBeLessThan(150);
    expect(run.stderr()).toContain(`Created: ${n}, Skipped: 0, Failed: 0\n`);
    expect(run.stderr()).toMatch(
      new RegExp(`interrupted after ${n} of 150 rows \\(${n} created\\); every finished batch is saved, re-run the same import to finish the rest\\n$`),
    );
    // Whole batches only: what was reported is exactly what is in the database, audit rows included.
    expect(await userCount()).toBe(n);
    const audited = await tdb.withDb(async ({ db }) => (await db.selectFrom('audit_log').select('id').where('verb', '=', 'import').execute()).length);
    expect(audited).toBe(n);

    const again = await runCtl(tdb, ['user', 'import', csv, '--batch-size', '100'], { env: { CTL_BCRYPT_COST: '4' }, timeoutMs: 60000 });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`Created: ${150 - n}, Skipped: ${n}, Failed: 0\n`);
    expect(await userCount()).toBe(150);
  });
});

describe('ctl user delete_activities', () => {
  beforeEach(() => withDb(seedFollowsAndSessions));

  test('Ctrl-C: exit 130 saying how far it got, only whole batches written, and a re-run finishes', async () => {
    await withDb(async (db) =>
      seedActivities(db, (await db.selectFrom('users').select('id').where('nickname', '=', 'alice').executeTakeFirstOrThrow()).id, 50000),
    );
    // One row per batch makes the run last long enough for its first plain progress line (after
    // 5 s); the interrupt is sent when that line appears, so the timing never decides the outcome.
    const child = spawn(process.execPath, [CTL, 'user', 'delete_activities', 'alice', '-y', '--batch-size', '1'], {
      env: ctlEnv(tdb),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/ rows\/s/.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(stdout).toBe('');
    const done = Number(/interrupted after (\d+) rows? in \1 batch(?:es)?; every finished batch is saved, re-run to finish the rest\n$/.exec(stderr)?.[1]);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(50007);
    const { left, audited } = await withDb(async (db) => {
      const { rows } = await sql<{ left: number; audited: number }>`
        SELECT (SELECT count(*)::int FROM activities a JOIN users u ON u.id = a.actor_id WHERE u.nickname = 'alice') AS left,
               (SELECT coalesce(sum((details->>'activities')::int), 0)::int FROM audit_log WHERE verb = 'delete_activities') AS audited`.execute(db);
      return rows[0];
    });
    expect(left).toBe(7 + 50000 - done);
    expect(audited).toBe(done);
    const rerun = await ctl(['user', 'delete_activities', 'alice', '-y', '--batch-size', '5000']);
    const batches = Math.floor(left / 5000) + 1;
    expect(rerun).toMatchObject({
      code: 0,
      stdout: `User alice statuses deleted.\nDeleted ${left} activities in ${batches} batch${batches === 1 ? '' : 'es'}.\n`,
    });
  }, 180000);
});
