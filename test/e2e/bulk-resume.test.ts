import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { BACKEND, type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { CTL, ctlEnv, runCtl, useTempDir } from '../helpers/cli';

// Ctrl-C during a bulk run and the one-run-at-a-time lock, through the real bin/ctl: SIGINT to
// the process mid-run, exit 130, how far it got, and a re-run that finishes the job.

let tdb: TestDatabase;
let dir: string;
useCliTestDatabase((d) => (tdb = d));
useTempDir('userctl-resume-', (d) => (dir = d));

interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts bin/ctl and hands over the child, to signal it while it runs. */
function start(args: readonly string[], env: Record<string, string> = {}): Started {
  const child = spawn(process.execPath, [CTL, ...args], { env: ctlEnv(tdb, env), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (d) => {
    out += d;
    for (const w of [...waiters]) if (w.pattern.test(out)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  child.stderr.on('data', (d) => (err += d));
  child.stdin.end();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
  done.then(() => clearTimeout(killer));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor(pattern, timeoutMs = 30000) {
      if (pattern.test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; stdout: ${out.slice(-500)} stderr: ${err.slice(-500)}`)), timeoutMs);
        waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
        done.then(() => {
          clearTimeout(timer);
          if (!pattern.test(out)) reject(new Error(`ctl ended before ${pattern}; stdout: ${out.slice(-500)} stderr: ${err.slice(-500)}`));
        });
      });
    },
  };
}

/** A file of users with passwords: bcrypt in small batches makes every batch take a while. */
function passwordFile(name: string, rows: number, prefix = 'p'): string {
  const lines = ['nickname,email,password'];
  for (let i = 1; i <= rows; i++) lines.push(`${prefix}${i},${prefix}${i}@example.com,password-${i}`);
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
}

// Cost 8 (~15 ms a hash, two worker threads) and 10 users a batch: each batch takes a while, and
// the signal comes as soon as the first batch is reported, so the run is always caught mid-way.
const SLOW = { CTL_BCRYPT_COST: '8' };
const userCount = () => tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('id').execute()).length);

test('Ctrl-C during an import: the current batch finishes, exit 130 says how far it got, a re-run completes', async () => {
  const csv = passwordFile('slow.csv', 150);
  const run = start(['user', 'import', csv, '--batch-size', '10', '--format', 'ndjson'], SLOW);
  await run.waitFor(/"status":"created"/);
  run.child.kill('SIGINT');
  const { code } = await run.done;
  expect(code).toBe(130);
  const created = run.stdout().trimEnd().split('\n').map((l) => JSON.parse(l)).filter((r) => r.status === 'created');
  const n = created.length;
  expect(n % 10).toBe(0);
  expect(n).toBeGreaterThanOrEqual(10);
  expect(n).toBeLessThan(150);
  expect(run.stderr()).toContain(`Created: ${n}, Skipped: 0, Failed: 0\n`);
  expect(run.stderr()).toMatch(new RegExp(`interrupted after ${n} of 150 rows \\(${n} created\\); every finished batch is saved, re-run the same import to finish the rest\\n$`));
  // Whole batches only: what was reported is exactly what is in the database, audit rows included.
  expect(await userCount()).toBe(n);
  const audited = await tdb.withDb(async ({ db }) => (await db.selectFrom('audit_log').select('id').where('verb', '=', 'import').execute()).length);
  expect(audited).toBe(n);

  const again = await runCtl(tdb, ['user', 'import', csv, '--batch-size', '100'], { env: { CTL_BCRYPT_COST: '4' }, timeoutMs: 60000 });
  expect(again.code).toBe(0);
  expect(again.stdout).toBe(`Created: ${150 - n}, Skipped: ${n}, Failed: 0\n`);
  expect(await userCount()).toBe(150);
});

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

// PGlite has no other sessions: its data-directory lock (above) is what keeps a second run out,
// so this one exists on the server run only.
if (BACKEND === 'postgres') test('the lock is held in the server, so a session on any host keeps import out', async () => {
  const other = new Client({ connectionString: tdb.url! });
  await other.connect();
  try {
    await other.query(`SELECT pg_advisory_lock(hashtext('userctl:import'))`);
    const refused = await runCtl(tdb, ['user', 'import', '-'], { input: 'email\nq@example.com\n' });
    expect(refused).toMatchObject({ code: 4, stderr: 'another import is already running\n' });
    expect(await userCount()).toBe(0);
    await other.query(`SELECT pg_advisory_unlock(hashtext('userctl:import'))`);
    const ok = await runCtl(tdb, ['user', 'import', '-'], { input: 'email\nq@example.com\n' });
    expect(ok.code).toBe(0);
    expect(await userCount()).toBe(1);
  } finally {
    await other.end();
  }
});
