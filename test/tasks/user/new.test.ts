import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { libContext, TEST_SETTINGS } from '../../helpers/backend';
import { closedPort, tokenOf, type TestSmtp, useTestSmtp } from '../../helpers/smtp';
import { resetPasswordWithToken } from '../../../lib/user/reset_password';
import { confirmEmail } from '../../../lib/tokens/confirmation';
import { ConflictError } from '../../../lib/errors';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const userCount = () => tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('id').execute()).length);

const TOKEN = '[A-Za-z0-9_][A-Za-z0-9_-]{42}';

let smtp: TestSmtp;
useTestSmtp((s) => (smtp = s));

const MAIL_ENV = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'Example Social <no-reply@social.example>' });
/** ctl with mail configured, through the file's SMTP server. */
const mailCtl = (args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}) =>
  ctl(args, { ...opts, env: { ...MAIL_ENV(), ...opts.env } });
const lib = <T>(fn: (ctx: ReturnType<typeof libContext>) => Promise<T>) => tdb.withDb((h) => fn(libContext(h)));

describe('ctl user new', () => {
  test('while single sign-on is on, it says the account cannot use a password and how SSO will link it', async () => {
    const env = { CTL_LDAP_URL: 'ldap://127.0.0.1:1', CTL_LDAP_SEARCH_BASE: 'dc=example,dc=org' };
    const r = await ctl(['user', 'new', 'erin', 'erin@example.com', '-y'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe(
      'Single sign-on (ldap) is on: erin cannot log in with a password; their first ldap login links this account by its confirmed address',
    );
    expect((await ctl(['user', 'new', 'fay', 'fay@example.com', '-y'])).stderr).not.toContain('Single sign-on');
    expect(r.stdout).toMatch(/^User erin created$/m);
  });

  test("prints Pleroma's summary and creates the user with a password from stdin", async () => {
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
    expect(Object.keys(users[0])).toEqual(
      expect.arrayContaining([
        'id',
        'nickname',
        'email',
        'name',
        'bio',
        'local',
        'admin',
        'moderator',
        'locked',
        'confirmed',
        'active',
        'deleted',
        'tags',
        'createdAt',
        'lastLoginAt',
      ]),
    );
    expect(users[0]).toMatchObject({ nickname: 'alice', email: 'alice@example.com', confirmed: true, active: true });
  });

  test('without a password: a reset link, status lines for roles, and --json gives the user', async () => {
    const r = await ctl(['user', 'new', 'bob@example.com', '--admin', '--moderator', '-y']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  - password: [generated; a reset link will be created]\n');
    expect(r.stdout).toMatch(
      /User bob created\nModerator status of bob: true\nAdmin status of bob: true\nGenerated password reset token for bob\nURL: http:\/\/ctl\.test\/password_reset\/[A-Za-z0-9_-]{43}\n$/,
    );
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
    // A nickname alone is a missing email, not an invalid one: "invalid email \"alice\"" named the wrong argument.
    [['user', 'new', 'alice', '-y'], 2, 'missing email: use new <nickname> <email>, or new <email> (the nickname is its local part)\n'],
    [['user', 'new', 'alice', 'alice@example.com', '-y', '--password-file', '/nonexistent/pw'], 2, 'cannot read --password-file /nonexistent/pw: ENOENT\n'],
  ])('%j exits %i with one line on stderr', async (args, code, message) => {
    const r = await ctl(args);
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

describe('ctl user new, without mail', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'old-password']);
  });

  test('new --no-confirmed prints a confirmation link that confirmEmail takes once', async () => {
    const r = await ctl(['user', 'new', 'carol', 'carol@example.com', '-y', '--no-confirmed', '--password', 'a-good-password']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`User carol created\\nGenerated email confirmation token for carol\\nURL: http://ctl\\.test/verify/${TOKEN}\\n$`));
    expect(r.stderr).toContain('No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the link above to carol yourself\n');
    const token = tokenOf(r.stdout.trim().split('\n').pop()!);
    await tdb.withDb(async (h) => {
      expect(await confirmEmail(libContext(h), token)).toMatchObject({ nickname: 'carol' });
      await expect(confirmEmail(libContext(h), token)).rejects.toThrow(ConflictError);
    });
    const show = JSON.parse((await ctl(['user', 'show', 'carol', '--json'])).stdout);
    expect(show.confirmed).toBe(true);
  });
});

describe('ctl user new, with mail', () => {
  test('new without a password and --no-confirmed mails both links; each works once through lib/', async () => {
    const r = await mailCtl(['user', 'new', 'bob', 'bob@example.com', '-y', '--no-confirmed', '--name', 'Bob B.']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `User bob created\\nGenerated password reset token for bob\\nURL: (http://ctl\\.test/password_reset/${TOKEN})\\n` +
          `Generated email confirmation token for bob\\nURL: (http://ctl\\.test/verify/${TOKEN})\\n` +
          'Set-password link mailed to bob@example.com\\nConfirmation link mailed to bob@example.com\\n$',
      ),
    );
    expect(r.stderr).toBe('');
    const mails = await smtp.waitFor(2);
    expect(mails.map((m) => [m.envelopeTo.join(), m.subject])).toEqual([
      ['bob@example.com', 'Set your password for ctl.test'],
      ['bob@example.com', 'Confirm your email address for ctl.test'],
    ]);
    expect(mails[0].text).toMatch(/^Hello Bob B\.,\n/);
    const [setLink, confirmLink] = [mails[0].textLinks[0], mails[1].textLinks[0]];
    expect(r.stdout).toContain(`URL: ${setLink}\n`);
    expect(r.stdout).toContain(`URL: ${confirmLink}\n`);
    await lib(async (ctx) => {
      expect(await resetPasswordWithToken(ctx, tokenOf(setLink), 'bobs-password', TEST_SETTINGS)).toMatchObject({ nickname: 'bob' });
      await expect(resetPasswordWithToken(ctx, tokenOf(setLink), 'bobs-password', TEST_SETTINGS)).rejects.toThrow(ConflictError);
      expect(await confirmEmail(ctx, tokenOf(confirmLink))).toMatchObject({ nickname: 'bob' });
      await expect(confirmEmail(ctx, tokenOf(confirmLink))).rejects.toThrow(ConflictError);
    });
  });

  test('new --skip-email and reset_password --skip-email mail nothing', async () => {
    expect((await mailCtl(['user', 'new', 'bob', 'bob@example.com', '-y', '--skip-email'])).code).toBe(0);
    const r = await mailCtl(['user', 'reset_password', 'bob', '--skip-email']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^Generated password reset token for bob\\nURL: http://ctl\\.test/password_reset/${TOKEN}\\n$`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.messages).toHaveLength(0);
  });

  test('new: the user is created, --json still prints the result, and the exit is 7', async () => {
    const port = await closedPort();
    const r = await mailCtl(['user', 'new', 'bob', 'bob@example.com', '-y', '--json'], { env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    expect(r.code).toBe(7);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      nickname: 'bob',
      mail: [{ kind: 'set_password', to: 'bob@example.com', status: 'failed', error: expect.stringContaining('ECONNREFUSED') }],
    });
    expect(r.stderr.trim().split('\n').pop()).toMatch(
      /^User bob was created, but the set-password link could not be mailed to bob@example\.com \(.*ECONNREFUSED.*\); pass the link above to bob yourself$/,
    );
    await lib((ctx) => resetPasswordWithToken(ctx, tokenOf(out.passwordResetUrl), 'bobs-password', TEST_SETTINGS));
  });
});
