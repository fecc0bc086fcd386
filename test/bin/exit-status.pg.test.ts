import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';
import { closedPort } from '../helpers/smtp';
import { seedUser } from '../helpers/seed-users';

// The process's own exit status, one per code of CONVENTIONS.md that a verb reaches without a
// signal (130: test/bin/interrupt.test.ts); the in-process tests check main()'s return value.

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));
beforeEach(() => tdb.withDb(({ db }) => seedUser(db, { nickname: 'admin', admin: true })));

test.each([
  [2, ['user', 'frob'], 'Unknown command: frob\n'],
  [3, ['user', 'show', 'nobody'], 'No user nobody\n'],
  [4, ['user', 'rm', 'admin'], 'refusing to delete admin: it is the last active admin (make another user admin first: ctl user set <user> --admin)\n'],
  // After the summary of what was asked (on stdout).
  [5, ['user', 'new', 'alice', 'alice@example.com'], 'refusing to create the user without confirmation: stdin is not a terminal; pass -y to confirm\n'],
])('exit %i: %j', async (code, args, stderr) => {
  const r = await runCtl(tdb, args);
  expect(r).toMatchObject({ code, signal: null, stderr });
  if (code !== 5) expect(r.stdout).toBe('');
});

test('exit 6: an unreachable database, one line and no password in it', async () => {
  const r = await runCtl(null, ['user', 'list'], { env: { DATABASE_URL: 'postgres://admin:hunter2@127.0.0.1:1/app' } });
  expect(r.code).toBe(6);
  expect(r.stderr).toBe('cannot reach the database at postgres://admin:***@127.0.0.1:1/app: connect ECONNREFUSED 127.0.0.1:1\n');
});

test('exit 7: the invite is saved but its mail could not be sent', async () => {
  const port = await closedPort();
  const r = await runCtl(tdb, ['user', 'invite', '--email', 'jane@example.com'], {
    env: { SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM: 'ctl <ctl@example.com>' },
  });
  expect(r.code).toBe(7);
  expect(r.stderr).toMatch(/^Invite 1 was saved, but the invitation could not be mailed to jane@example\.com /);
});

test('exit 3: a 100 KB <user> is quoted back clipped, on one short line', async () => {
  const r = await runCtl(tdb, ['user', 'show', 'x'.repeat(100_000)]);
  expect(r).toMatchObject({ code: 3, signal: null, stdout: '', stderr: `No user ${'x'.repeat(99)}…\n` });
});
