import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtl, runCtlOnTty } from '../helpers/cli';

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);
const userCount = () => tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('id').execute()).length);

describe('ctl user new', () => {
  test('prints Pleroma\'s summary and creates the user with a password from stdin', async () => {
    const r = await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password-stdin'], { input: 's3cret-pass\n' });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(
      [
        'A user will be created with the following information:',
        '  - nickname: alice',
        '  - email: alice@example.com',
        '  - password: [given]',
        '  - name: alice',
        '  - bio: ',
        '  - moderator: false',
        '  - admin: false',
        'User alice created',
        '',
      ].join('\n'),
    );
    const list = await ctl(['user', 'list', '--json']);
    expect(list.code).toBe(0);
    const users = JSON.parse(list.stdout);
    expect(users).toHaveLength(1);
    expect(Object.keys(users[0])).toEqual(expect.arrayContaining(['id', 'nickname', 'email', 'name', 'bio', 'local', 'admin', 'moderator', 'locked', 'confirmed', 'active', 'deleted', 'tags', 'createdAt', 'lastLoginAt']));
    expect(users[0]).toMatchObject({ nickname: 'alice', email: 'alice@example.com', confirmed: true, active: true });
  });

  test('without a password: a reset link, status lines for roles, and --json gives the user', async () => {
    const r = await ctl(['user', 'new', 'bob@example.com', '--admin', '--moderator', '-y']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  - password: [generated; a reset link will be created]\n');
    expect(r.stdout).toMatch(/User bob created\nModerator status of bob: true\nAdmin status of bob: true\nGenerated password reset token for bob\nURL: http:\/\/ctl\.test\/password_reset\/[A-Za-z0-9_-]{43}\n$/);
    const j = await ctl(['user', 'new', 'carol', 'carol@example.com', '-y', '--json', '--name', 'Carol Q. Doe', '--no-confirmed']);
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out).toMatchObject({ nickname: 'carol', name: 'Carol Q. Doe', confirmed: false });
    expect(out.passwordResetUrl).toMatch(/^http:\/\/ctl\.test\/password_reset\//);
    expect(j.stderr).toContain('A user will be created');
  });

  test('--password works but warns that it is visible', async () => {
    const r = await ctl(['user', 'new', 'dan', 'dan@example.com', '-y', '--password', 'visible-pass']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: --password is visible/);
    expect(r.stdout + r.stderr).not.toContain('visible-pass');
  });

  test('no TTY and no -y: exit 5 and nothing written', async () => {
    const r = await ctl(['user', 'new', 'alice', 'alice@example.com']);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe('refusing to create the user without confirmation: stdin is not a terminal; pass -y to confirm\n');
    expect(await userCount()).toBe(0);
  });

  test('on a TTY, "n" declines: "User will not be created." and exit 5', async () => {
    const r = await runCtlOnTty(tdb, ['user', 'new', 'alice', 'alice@example.com'], 'n\n');
    expect(r.stdout).toContain('Continue? [n] ');
    expect(r.stdout).toContain('User will not be created.');
    expect(r.code).toBe(5);
    expect(await userCount()).toBe(0);
  });

  test('on a TTY, "y" creates', async () => {
    const r = await runCtlOnTty(tdb, ['user', 'new', 'alice', 'alice@example.com'], 'y\n');
    expect(r.stdout).toContain('User alice created');
    expect(r.code).toBe(0);
    expect(await userCount()).toBe(1);
  });

  test('--dry-run says what would happen and writes nothing', async () => {
    const r = await ctl(['user', 'new', 'alice', 'alice@example.com', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('User alice would be created (dry run)');
    expect(await userCount()).toBe(0);
  });

  test.each([
    [['user', 'new', 'alice', 'not-an-email', '-y'], 2, 'invalid email "not-an-email"\n'],
    [['user', 'new', 'al ice', 'alice@example.com', '-y'], 2, /^invalid nickname "al ice"/],
    [['user', 'new', 'alice', 'alice@example.com', '--frobnicate'], 2, 'Unknown argument: frobnicate\n'],
    [['user', 'new'], 2, /Not enough non-option arguments/],
    [['user', 'frob'], 2, 'Unknown command: frob\n'],
    [['user', 'list', '--format', 'xml'], 2, /Invalid values/],
    [['user', 'new', 'alice', 'alice@example.com', '-y', '--password-file', '/nonexistent/pw'], 2, 'cannot read --password-file /nonexistent/pw: ENOENT\n'],
  ])('%j exits %i with one line on stderr', async (args, code, message) => {
    const r = await ctl(args as string[]);
    expect(r.code).toBe(code);
    if (typeof message === 'string') expect(r.stderr).toBe(message);
    else expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(await userCount()).toBe(0);
  });

  test('a taken nickname or email is exit 4 naming which', async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y']);
    const nick = await ctl(['user', 'new', 'Alice', 'other@example.com', '-y']);
    expect(nick).toMatchObject({ code: 4, stderr: 'nickname Alice is already taken\n', stdout: '' });
    const mail = await ctl(['user', 'new', 'bob', 'ALICE@example.com', '-y']);
    expect(mail).toMatchObject({ code: 4, stderr: 'email ALICE@example.com is already taken\n' });
    expect(await userCount()).toBe(1);
  });
});

describe('ctl user list / show', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--admin']);
    await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--no-confirmed']);
  });

  test('the table shows nickname, email, name, roles, status, confirmed, created', async () => {
    const r = await ctl(['user', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['NICKNAME', 'EMAIL', 'NAME', 'ROLES', 'STATUS', 'CONFIRMED', 'CREATED']);
    expect(lines[1].split(/\s{2,}/).slice(0, 6)).toEqual(['alice', 'alice@example.com', 'alice', 'admin', 'active', 'yes']);
    expect(lines[2].split(/\s{2,}/).slice(0, 6)).toEqual(['bob', 'bob@example.com', 'bob', '-', 'active', 'no']);
  });

  test('ndjson and csv carry the full user object; filters apply', async () => {
    const nd = await ctl(['user', 'list', '--format', 'ndjson', '--unconfirmed']);
    const rows = nd.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((u) => u.nickname)).toEqual(['bob']);
    const csv = await ctl(['user', 'list', '--format', 'csv', '--admin']);
    const [header, line, ...rest] = csv.stdout.split('\r\n');
    expect(header.split(',').slice(0, 4)).toEqual(['id', 'nickname', 'email', 'name']);
    expect(line.split(',').slice(1, 3)).toEqual(['alice', 'alice@example.com']);
    expect(rest).toEqual(['']);
  });

  test('show gives every field and counts; unknown user is exit 3', async () => {
    const r = await ctl(['user', 'show', 'BOB@example.com', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ nickname: 'bob', confirmed: false, counts: { activities: 0, followers: 0, following: 0, activeSessions: 0, tags: 0 } });
    const stats = await ctl(['user', 'stats', 'alice']);
    expect(stats.stdout).toMatch(/^nickname\s+alice$/m);
    const missing = await ctl(['user', 'show', 'nobody']);
    expect(missing).toMatchObject({ code: 3, stdout: '', stderr: 'No user nobody\n' });
  });
});

describe('runner', () => {
  test('ctl user --help lists every verb without touching the database', async () => {
    const r = await runCtl(null, ['user', '--help'], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
    expect(r.code).toBe(0);
    for (const verb of ['new', 'list', 'show', 'rm', 'deactivate_all_from_instance', 'revoke_invite']) expect(r.stdout).toContain(`ctl user ${verb}`);
  });

  test('every verb has --help with an example', async () => {
    for (const verb of ['new', 'list', 'show']) {
      const r = await runCtl(null, ['user', verb, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
    }
  });

  test('an unreachable database is exit 6 with one line and no password in it', async () => {
    const r = await runCtl(null, ['user', 'list'], { env: { DATABASE_URL: 'postgres://admin:hunter2@127.0.0.1:1/app' } });
    expect(r.code).toBe(6);
    expect(r.stderr).toBe('cannot reach the database at postgres://admin:***@127.0.0.1:1/app: connect ECONNREFUSED 127.0.0.1:1\n');
  });

  test('a bad setting is exit 6 naming the variable, before anything else', async () => {
    const r = await ctl(['user', 'list'], { env: { APP_URL: 'not a url' } });
    expect(r).toMatchObject({ code: 6, stderr: 'APP_URL has a bad value "not a url": not a URL\n' });
    const port = await ctl(['user', 'list'], { env: { DATABASE_URL: 'postgres://h:99999/db' } });
    expect(port.code).toBe(6);
    expect(port.stderr).toMatch(/^DATABASE_URL has a bad value/);
  });

  test('settings come from the .env file when the environment lacks them, and the environment wins', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-env-'));
    const file = path.join(dir, '.env');
    fs.writeFileSync(file, 'APP_URL=http://from-file.test\n# comment\n');
    const r = await ctl(['user', 'new', 'erin', 'erin@example.com', '-y'], { env: { CTL_ENV_FILE: file, APP_URL: undefined } });
    expect(r.stdout).toContain('URL: http://from-file.test/password_reset/');
    const r2 = await ctl(['user', 'new', 'fred', 'fred@example.com', '-y'], { env: { CTL_ENV_FILE: file, APP_URL: 'http://from-env.test' } });
    expect(r2.stdout).toContain('URL: http://from-env.test/password_reset/');
    fs.rmSync(dir, { recursive: true });
  });
});
