import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { CTL, runCtl } from '../helpers/cli';
import { runInProcess } from './helpers/inproc';
import { startCtl } from './helpers/proc';
import { tally } from './helpers/tally';

// Every exit code of CONVENTIONS.md, reached through the real runner (bin/ctl, or main() where a
// bug has to be simulated), each with its one-line message on stderr and nothing on stdout.

jest.mock('../../lib/user/show', () => {
  const actual = jest.requireActual('../../lib/user/show');
  return { ...actual, showUser: jest.fn(actual.showUser) };
});
// eslint-disable-next-line @typescript-eslint/no-require-imports
const showMock = (require('../../lib/user/show') as { showUser: jest.Mock }).showUser;

let tdb: TestDatabase;
let dir: string;
beforeAll(async () => {
  tdb = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-exit-'));
  const r = await runCtl(tdb, ['user', 'new', 'alice', 'alice@example.com', '-y', '--admin']);
  expect(r.code).toBe(0);
});
afterAll(async () => {
  await tdb?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const reached = new Map<number, string>();
afterAll(() => {
  // The table this file proves; a missing code fails the last test below.
  tally('inputs', reached.size);
});

async function expectExit(code: number, args: string[], stderr: string | RegExp, opts: { input?: string; env?: Record<string, string> } = {}) {
  const r = await runCtl(tdb, args, opts);
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' });
  if (typeof stderr === 'string') expect(r.stderr).toBe(stderr);
  else expect(r.stderr).toMatch(stderr);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  reached.set(code, args.join(' '));
}

test('0: done, and also nothing to do', async () => {
  const r = await runCtl(tdb, ['user', 'activate', 'alice']);
  expect(r).toMatchObject({ code: 0, stdout: 'User alice already activated\n', stderr: '' });
  reached.set(0, 'user activate alice');
});

test('1: an unexpected error is one line naming it; the stack only with DEBUG', async () => {
  showMock.mockRejectedValueOnce(new TypeError("Cannot read properties of undefined (reading 'id')"));
  const r = await runInProcess(tdb, ['user', 'show', 'alice']);
  expect(r).toEqual({ code: 1, stdout: '', stderr: "internal error: Cannot read properties of undefined (reading 'id') (set DEBUG=1 for the stack trace)\n" });
  showMock.mockRejectedValueOnce(new TypeError('boom'));
  const d = await runInProcess(tdb, ['user', 'show', 'alice'], { env: { DEBUG: '1' } });
  expect(d.code).toBe(1);
  expect(d.stderr).toMatch(/^internal error: boom \(set DEBUG=1 for the stack trace\)\nTypeError: boom\n\s+at /);
  tally('faults', 2);
  // And bin/ctl itself when the build is missing: one line saying what to run.
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  // bin/ as it ships (ctl and the vendor loader beside it), with no dist/ next to it.
  for (const file of fs.readdirSync(path.dirname(CTL))) fs.copyFileSync(path.join(path.dirname(CTL), file), path.join(bin, file));
  const { spawnSync } = await import('node:child_process');
  const unbuilt = spawnSync(process.execPath, [path.join(bin, 'ctl'), 'user', 'list'], { encoding: 'utf8' });
  expect({ code: unbuilt.status, stdout: unbuilt.stdout, stderr: unbuilt.stderr }).toEqual({
    code: 1,
    stdout: '',
    stderr: 'ctl is not built: run `npm install` (or `npm run build`) first\n',
  });
  reached.set(1, 'user show alice (failing lib), bin/ctl without dist/');
});

test('2: usage error or invalid input', async () => {
  await expectExit(2, ['user', 'list', '--frobnicate'], 'Unknown argument: frobnicate\n');
  await expectExit(2, ['user', 'new', 'bob', 'not-an-email', '-y'], 'invalid email "not-an-email"\n');
  await expectExit(2, ['user', 'invite', '--expires-at', '2019-02-30'], /^invalid date "2019-02-30" for --expires-at/);
  await expectExit(2, ['audit', 'list', '--since', '2019-02-30'], /^invalid date "2019-02-30" for --since/);
});

test('3: not found', async () => {
  await expectExit(3, ['user', 'show', 'nobody'], 'No user nobody\n');
  await expectExit(3, ['user', 'rm', 'nobody'], 'No local user nobody\n');
});

test('4: conflict (taken, last admin)', async () => {
  await expectExit(4, ['user', 'new', 'Alice', 'other@example.com', '-y'], 'nickname Alice is already taken\n');
  await expectExit(4, ['user', 'deactivate', 'alice'], /last/);
});

test('5: refused (no TTY and no -y): the summary of what was asked, then the refusal; nothing written', async () => {
  const r = await runCtl(tdb, ['user', 'new', 'bob', 'bob@example.com']);
  expect(r.code).toBe(5);
  expect(r.stdout).toMatch(/^A user will be created with the following information:\n/);
  expect(r.stderr).toBe('refusing to create the user without confirmation: stdin is not a terminal; pass -y to confirm\n');
  await expectExit(5, ['migrate', 'down'], 'refusing to undo a migration without confirmation: stdin is not a terminal; pass -y to confirm\n');
  const bob = await tdb.withDb(({ db }) => db.selectFrom('users').select('id').where('nickname', '=', 'bob').execute());
  expect(bob).toEqual([]);
});

test('6: unavailable (unreachable, bad setting, not migrated)', async () => {
  const r = await runCtl(null, ['user', 'list'], { env: { DATABASE_URL: 'postgres://u:pw@127.0.0.1:1/app' } });
  expect(r).toMatchObject({ code: 6, stdout: '', stderr: 'cannot reach the database at postgres://u:***@127.0.0.1:1/app: connect ECONNREFUSED 127.0.0.1:1\n' });
  await expectExit(6, ['user', 'list'], 'CTL_BATCH_SIZE has a bad value "0": must be between 1 and 1000000\n', { env: { CTL_BATCH_SIZE: '0' } });
  reached.set(6, 'user list (unreachable server, bad setting)');
});

test('7: partial failure of a bulk operation', async () => {
  const file = path.join(dir, 'users.csv');
  fs.writeFileSync(file, 'nickname,email\ncarl,carl@example.com\nbad,not-an-email\ndora,dora@example.com\n');
  const r = await runCtl(tdb, ['user', 'import', file, '--continue-on-error']);
  expect(r.code).toBe(7);
  expect(r.stderr).toMatch(/^line 3: .*not-an-email/m);
  expect(r.stderr.trim().split('\n').pop()).toBe('1 of 3 rows failed (listed above); 2 created');
  expect(r.stdout).toContain('Created: 2, Skipped: 0, Failed: 1\n');
  const names = await tdb.withDb(async ({ db }) =>
    (await db.selectFrom('users').select('nickname').where('nickname', 'in', ['carl', 'bad', 'dora']).orderBy('nickname').execute()).map((u) => u.nickname),
  );
  expect(names).toEqual(['carl', 'dora']);
  reached.set(7, 'user import --continue-on-error (one bad row)');
});

test('130: interrupted (SIGINT) mid-run: finished batches stay, the rest is untouched, a re-run finishes', async () => {
  await tdb.withDb(({ db }) =>
    sql`INSERT INTO users (nickname, email, name, confirmed) SELECT 'sig' || g, 'sig' || g || '@example.com', 'x', false FROM generate_series(1, 20000) g`.execute(
      db,
    ),
  );
  const run = startCtl(tdb, ['user', 'confirm_all', '-y', '--batch-size', '100']);
  await run.waitFor(/are unconfirmed\./);
  await new Promise((resolve) => setTimeout(resolve, 300));
  run.child.kill('SIGINT');
  tally('faults');
  const r = await run.done;
  expect(r.code).toBe(130);
  expect(r.stderr).toMatch(
    /^interrupted: confirmed (\d+) users? in (\d+) batch(?:es)?; every finished batch is saved, re-run confirm_all to finish the rest\n$/m,
  );
  const [, done, batches] = /confirmed (\d+) users? in (\d+) batch/.exec(r.stderr)!.map(Number);
  expect(done).toBe(batches * 100);
  const state = await tdb.withDb(async ({ db }) => {
    const { rows } = await sql<{ confirmed: number; audited: number }>`
      SELECT (SELECT count(*)::int FROM users WHERE nickname LIKE 'sig%' AND confirmed) AS confirmed,
             (SELECT count(*)::int FROM audit_log WHERE verb = 'confirm_all') AS audited`.execute(db);
    return rows[0];
  });
  expect(state).toEqual({ confirmed: done, audited: done });
  expect(done).toBeLessThan(20000);
  const again = await runCtl(tdb, ['user', 'confirm_all', '-y', '--batch-size', '5000']);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain(`Confirmed ${20000 - done} users in`);
  reached.set(130, 'user confirm_all, SIGINT');
}, 120000);

test('130 also while waiting for --password-stdin: the first Ctrl-C stops it, nothing written', async () => {
  const run = startCtl(tdb, ['user', 'new', 'pat', 'pat@example.com', '-y', '--password-stdin'], { stdinOpen: true });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  run.child.kill('SIGINT');
  tally('faults');
  const r = await run.done;
  expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 130, stdout: '', stderr: 'interrupted\n' });
  const pat = await tdb.withDb(({ db }) => db.selectFrom('users').select('id').where('nickname', '=', 'pat').execute());
  expect(pat).toEqual([]);
});

test('every exit code of CONVENTIONS.md was reached above', () => {
  expect([...reached.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 130]);
});
