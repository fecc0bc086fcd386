import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { CTL, ctlEnv, runCtl } from '../helpers/cli';
import { userRow } from '../helpers/table-state';
import { seedFollowsAndSessions } from '../helpers/cli-scenarios';
import { verifyPassword } from '../../lib/auth/passwords';
import { USER_VERBS } from '../../tasks/user/index';

// One happy path per command through the real bin/ctl (the built dist/): the process starts,
// parses, reaches the database, prints and exits 0. What each verb does in detail is tested
// in-process, in test/tasks/.

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);
const user = (nickname: string) => tdb.withDb(({ db }) => userRow(db, nickname));
const URL_TOKEN = '[A-Za-z0-9_-]{43}';

/** admin (the only admin); alice follows and is followed by bob and a remote user; alice has 3 sessions and 7 activities. */
beforeEach(() => tdb.withDb(({ db }) => seedFollowsAndSessions(db)));

const tested = new Set<string>();
const verb = (name: string, fn: () => Promise<void>) => {
  tested.add(name);
  test(`ctl user ${name}`, fn);
};

verb('activate', async () => {
  await tdb.withDb(({ db }) => db.updateTable('users').set({ active: false }).where('nickname', '=', 'alice').execute());
  expect(await ctl(['user', 'activate', 'alice'])).toMatchObject({ code: 0, signal: null, stderr: '', stdout: 'Successfully activated alice\n' });
});

verb('confirm', async () => {
  await tdb.withDb(({ db }) => db.updateTable('users').set({ confirmed: false }).where('nickname', '=', 'alice').execute());
  expect(await ctl(['user', 'confirm', 'alice'])).toMatchObject({ code: 0, stderr: '', stdout: 'alice confirmed.\n' });
  expect((await user('alice'))?.confirmed).toBe(true);
});

verb('confirm_all', async () => {
  await tdb.withDb(({ db }) => db.updateTable('users').set({ confirmed: false }).execute());
  const r = await ctl(['user', 'confirm_all', '-y']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/\nConfirmed 2 users in 1 batch\.\n$/);
});

verb('count', async () => {
  const r = await ctl(['user', 'count', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ total: 3, deactivated: 0, deleted: 0 });
});

verb('deactivate', async () => {
  expect(await ctl(['user', 'deactivate', 'alice'])).toMatchObject({
    code: 0,
    stderr: '',
    stdout: 'Successfully deactivated alice and unsubscribed all local followers\nRemoved 2 follows with local users, 3 sessions.\n',
  });
});

verb('deactivate_all_from_instance', async () => {
  const r = await ctl(['user', 'deactivate_all_from_instance', 'remote.example', '-y']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/\nDeactivated 1 users? from remote\.example, /);
  expect((await user('far@remote.example'))?.active).toBe(false);
});

verb('delete_activities', async () => {
  expect(await ctl(['user', 'delete_activities', 'alice', '-y'])).toMatchObject({
    code: 0,
    stderr: '',
    stdout: 'User alice statuses deleted.\nDeleted 7 activities in 1 batch.\n',
  });
});

verb('import', async () => {
  // `-` reads a real pipe.
  const r = await ctl(['user', 'import', '-', '--input-format', 'csv'], { input: 'nickname,email\ncarol,carol@example.com\n' });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^Password reset URL for carol: http://ctl\\.test/password_reset/${URL_TOKEN}\nCreated: 1, Skipped: 0, Failed: 0\n$`));
  expect(await user('carol')).toBeDefined();
});

verb('invite', async () => {
  const r = await ctl(['user', 'invite']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(new RegExp(`^Generated user invite token one time\nhttp://ctl\\.test/registration/${URL_TOKEN}\n$`));
});

verb('invites', async () => {
  await tdb.withDb(({ db }) =>
    db
      .insertInto('invites')
      .values({ token_hash: 'h'.repeat(64), token_prefix: 'abcdef', invite_type: 'one_time', max_use: null, expires_at: null, email: null, name: null })
      .execute(),
  );
  const r = await ctl(['user', 'invites', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject([{ id: 1, type: 'one_time', status: 'valid' }]);
});

verb('list', async () => {
  const r = await ctl(['user', 'list', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).map((u: { nickname: string }) => u.nickname)).toEqual(['admin', 'alice', 'bob']);
});

verb('new', async () => {
  // --password-stdin reads a real pipe.
  const r = await ctl(['user', 'new', 'carol', 'carol@example.com', '-y', '--password-stdin'], { input: 's3cret-pass\n' });
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toContain('  - password: [given]\n');
  expect(r.stdout).toMatch(/\nUser carol created\n$/);
  expect(await verifyPassword('s3cret-pass', (await user('carol'))!.password_hash)).toBe(true);
});

verb('purge_deleted', async () => {
  await tdb.withDb(({ db }) =>
    db
      .updateTable('users')
      .set({ deleted_at: new Date('2020-01-01T00:00:00Z'), active: false })
      .where('nickname', '=', 'bob')
      .execute(),
  );
  const r = await ctl(['user', 'purge_deleted', '-y']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/^1 accounts? deleted before \S+ will be purged: bob\n/);
  expect(await user('bob')).toBeUndefined();
});

verb('reset_mfa', async () => {
  await tdb.withDb(({ db }) =>
    db.updateTable('users').set({ mfa_enabled: true, mfa_totp_secret: 'JBSWY3DPEHPK3PXP' }).where('nickname', '=', 'alice').execute(),
  );
  expect(await ctl(['user', 'reset_mfa', 'alice'])).toMatchObject({
    code: 0,
    stderr: '',
    stdout: 'Multi-Factor Authentication disabled for alice\nRemoved: TOTP secret\n',
  });
});

verb('reset_password', async () => {
  // --password-stdin reads a real pipe.
  const r = await ctl(['user', 'reset_password', 'alice', '--password-stdin'], { input: 'chosen-password\n' });
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/^Password of alice changed; \d+ sessions? signed out\n$/);
  expect(await verifyPassword('chosen-password', (await user('alice'))!.password_hash)).toBe(true);
});

verb('restore', async () => {
  expect((await ctl(['user', 'rm', 'bob'])).code).toBe(0);
  expect(await ctl(['user', 'restore', 'bob'])).toMatchObject({ code: 0, stderr: '', stdout: 'User bob restored.\n' });
});

verb('revoke_invite', async () => {
  await tdb.withDb(({ db }) =>
    db
      .insertInto('invites')
      .values({ token_hash: 'h'.repeat(64), token_prefix: 'abcdef', invite_type: 'one_time', max_use: null, expires_at: null, email: null, name: null })
      .execute(),
  );
  expect(await ctl(['user', 'revoke_invite', '1'])).toMatchObject({ code: 0, stderr: '', stdout: 'Invite 1 was revoked.\n' });
});

verb('rm', async () => {
  const r = await ctl(['user', 'rm', 'bob']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/^User bob deleted\.\nRestorable until \d{4}-\d\d-\d\d with: ctl user restore bob\n$/);
});

verb('send_confirmation', async () => {
  await tdb.withDb(({ db }) => db.updateTable('users').set({ confirmed: false }).where('nickname', '=', 'bob').execute());
  const r = await ctl(['user', 'send_confirmation', 'bob']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^Generated email confirmation token for bob\nURL: http://ctl\\.test/verify/${URL_TOKEN}\n$`));
});

verb('set', async () => {
  expect(await ctl(['user', 'set', 'alice', '--locked'])).toMatchObject({ code: 0, stderr: '', stdout: 'Locked status of alice: true\n' });
});

verb('show', async () => {
  const r = await ctl(['user', 'show', 'alice', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ nickname: 'alice', counts: { activities: 7, activeSessions: 3 } });
});

verb('sign_out', async () => {
  expect(await ctl(['user', 'sign_out', 'alice'])).toMatchObject({
    code: 0,
    stderr: '',
    stdout: 'alice signed out from all apps.\nRevoked 3 tokens (access 1, refresh 1, authorization 1).\n',
  });
});

verb('tag', async () => {
  expect(await ctl(['user', 'tag', 'alice', 'x'])).toMatchObject({ code: 0, stderr: '', stdout: 'Tags of alice: ["x"]\n' });
});

verb('unconfirm_all', async () => {
  const r = await ctl(['user', 'unconfirm_all', '-y']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toContain('\nUnconfirmed 2 users in 1 batch; issued 2 email confirmation tokens.\n');
});

verb('untag', async () => {
  await tdb.withDb(({ db }) =>
    db
      .updateTable('users')
      .set({ tags: ['x', 'y'] })
      .where('nickname', '=', 'alice')
      .execute(),
  );
  expect(await ctl(['user', 'untag', 'alice', 'x'])).toMatchObject({ code: 0, stderr: '', stdout: 'Tags of alice: ["y"]\n' });
});

verb('create_user', async () => {
  const r = await ctl(['user', 'create_user', '--email=joe@example.com']);
  expect(r).toMatchObject({ code: 0, stderr: 'No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the link above to joe yourself\n' });
  expect(r.stdout).toMatch(new RegExp(`\nUser joe created\nGenerated password reset token for joe\nURL: http://ctl\\.test/password_reset/${URL_TOKEN}\n$`));
  expect((await user('joe'))?.email).toBe('joe@example.com');
});

verb('delete_user', async () => {
  const r = await ctl(['user', 'delete_user', '--email=bob@example.com']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/^User bob deleted\.\nRestorable until \d{4}-\d\d-\d\d with: ctl user restore bob\n$/);
  expect((await user('bob'))?.deleted_at).not.toBeNull();
});

verb('toggle_activated', async () => {
  expect(await ctl(['user', 'toggle_activated', 'alice'])).toMatchObject({
    code: 0,
    stderr: '',
    stdout: expect.stringMatching(/^Successfully deactivated alice and unsubscribed all local followers\n/),
  });
  expect(await ctl(['user', 'toggle_activated', 'alice'])).toMatchObject({ code: 0, stderr: '', stdout: 'Successfully activated alice\n' });
});

verb('toggle_confirmed', async () => {
  const off = await ctl(['user', 'toggle_confirmed', 'alice']);
  expect(off).toMatchObject({ code: 0, stderr: '' });
  expect(off.stdout).toMatch(
    new RegExp(`^Confirmation status of alice: false\nGenerated email confirmation token for alice\nURL: http://ctl\\.test/verify/${URL_TOKEN}\n$`),
  );
  expect(await ctl(['user', 'toggle_confirmed', 'alice'])).toMatchObject({ code: 0, stderr: '', stdout: 'alice confirmed.\n' });
});

test('every verb of tasks/user/index.ts has its happy path above', () => {
  expect([...tested].sort()).toEqual(USER_VERBS.map((v) => v.command.split(' ')[0]).sort());
});

test('ctl audit list', async () => {
  await ctl(['user', 'tag', 'bob', 'y', '--reason', 'ticket 1']);
  const r = await ctl(['audit', 'list', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject([{ actor: 'tester', verb: 'tag', targetNickname: 'bob', reason: 'ticket 1' }]);
});

test('ctl migrate status', async () => {
  const r = await ctl(['migrate', 'status']);
  expect(r.code).toBe(0);
  expect(r.stdout).not.toBe('');
  // Migrating an up-to-date schema is a no-op.
  expect(await ctl(['migrate'])).toMatchObject({ code: 0, stdout: 'The schema is up to date\n' });
  expect(await tdb.withDb(async ({ db }) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM users`.execute(db)).rows[0].n)).toBe(4);
});

test('ctl serve: starts, answers, and stops on SIGTERM with exit 0', async () => {
  const child = spawn(process.execPath, [CTL, 'serve', '--port', '0'], { env: ctlEnv(tdb) });
  let err = '';
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const base = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        err += d;
        const match = /^Listening on (http:\/\/127\.0\.0\.1:\d+) /m.exec(err);
        if (match) resolve(match[1]);
      });
      void exit.then((code) => reject(new Error(`ctl serve exited ${code}: ${err}`)));
    });
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exit).toBe(0);
});

test('ctl completion prints a shell completion script', async () => {
  const r = await runCtl(null, ['completion']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toContain('###-begin-ctl-completions-###');
});

test('ctl --help lists the nouns without touching the database', async () => {
  const r = await runCtl(null, ['--help'], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
  expect(r.code).toBe(0);
  for (const noun of ['user', 'audit <action>', 'migrate [action]', 'serve', 'completion']) expect(r.stdout).toContain(`ctl ${noun}`);
});
