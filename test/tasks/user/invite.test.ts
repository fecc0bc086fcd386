import { libContext, TEST_SETTINGS } from '../../helpers/backend';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { closedPort, startSmtp, tokenOf, type TestSmtp, useTestSmtp } from '../../helpers/smtp';
import { redeemInvite } from '../../../lib/invites/invites';
import { ConflictError } from '../../../lib/errors';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const TOKEN = '[A-Za-z0-9_][A-Za-z0-9_-]{42}';
const NO_MAIL = 'No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the link above on yourself\n';
const today = () => new Date().toISOString().slice(0, 10);
const inDays = (n: number) => new Date(Date.now() + n * 86400e3).toISOString().slice(0, 10);
const invites = () => tdb.withDb(({ db }) => db.selectFrom('invites').selectAll().orderBy('id').execute());
const register = (token: string, nickname: string) =>
  tdb.withDb((h) => redeemInvite(libContext(h), token, { nickname, email: `${nickname}@example.com`, password: 'a-good-password' }, TEST_SETTINGS));

let smtp: TestSmtp;
useTestSmtp((s) => (smtp = s));

const MAIL_ENV = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'Example Social <no-reply@social.example>' });
/** ctl with mail configured, through the file's SMTP server. */
const mailCtl = (args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}) =>
  ctl(args, { ...opts, env: { ...MAIL_ENV(), ...opts.env } });
const lib = <T>(fn: (ctx: ReturnType<typeof libContext>) => Promise<T>) => tdb.withDb((h) => fn(libContext(h)));

describe('ctl user invite', () => {
  test.each([
    [[], 'one time', 'one_time', null, null],
    [['--expires-at', '2099-12-31'], 'date limited', 'date_limited', '2099-12-31', null],
    [['--max-use', '7'], 'reusable', 'reusable', null, 7],
    [['--max-use', '7', '--expires-in', '7d'], 'reusable date limited', 'reusable_date_limited', 'in7', 7],
  ])("%j: Pleroma's line, then the URL on its own line, and the printed token registers", async (args, label, type, expires, maxUse) => {
    const r = await ctl(['user', 'invite', ...(args as string[])]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^Generated user invite token ${label}\\nhttp://ctl\\.test/registration/${TOKEN}\\n$`));
    const token = tokenOf(r.stdout.trim().split('\n')[1]);
    const [row] = await invites();
    expect(row).toMatchObject({ invite_type: type, expires_at: expires === 'in7' ? inDays(7) : expires, max_use: maxUse, uses: 0, used: false });
    expect(JSON.stringify(row)).not.toContain(token);
    const created = await register(token, 'alice');
    expect(created.user.nickname).toBe('alice');
  });

  test('a printed --max-use 2 token registers exactly two accounts', async () => {
    const r = await ctl(['user', 'invite', '--max-use', '2']);
    const token = tokenOf(r.stdout.trim().split('\n')[1]);
    await register(token, 'one');
    await register(token, 'two');
    await expect(register(token, 'three')).rejects.toThrow(new ConflictError('this invite has already been used'));
    expect((await invites())[0]).toMatchObject({ uses: 2, used: true });
    expect(JSON.parse((await ctl(['user', 'list', '--json'])).stdout).map((u: { nickname: string }) => u.nickname)).toEqual(['one', 'two']);
  });

  test('--expires-at today is accepted (the last day is inclusive)', async () => {
    const r = await ctl(['user', 'invite', '--expires-at', today()]);
    expect(r.code).toBe(0);
    expect((await invites())[0].expires_at).toBe(today());
  });

  test.each([
    [
      ['--expires-at', '2020-01-01'],
      /^--expires-at 2020-01-01 is in the past: the last day an invite works cannot be before today \(\d{4}-\d\d-\d\d, UTC\)\n$/,
    ],
    [['--expires-at', '2099-02-30'], 'invalid date "2099-02-30" for --expires-at: expected YYYY-MM-DD\n'],
    [['--expires-at', 'tomorrow'], 'invalid date "tomorrow" for --expires-at: expected YYYY-MM-DD or an ISO timestamp\n'],
    [['--expires-in', 'soon'], 'invalid duration "soon" for --expires-in: expected a duration like 7d, 12h or 2w\n'],
    [['--max-use', '0'], 'invalid --max-use "0": expected a whole number from 1 to 2147483647\n'],
    [['--max-use', 'abc'], 'invalid --max-use "abc": expected a whole number from 1 to 2147483647\n'],
    [['--max-use', '-3'], 'invalid --max-use "-3": expected a whole number from 1 to 2147483647\n'],
    [['--max-use'], 'invalid --max-use "": expected a whole number from 1 to 2147483647\n'],
    [['--expires-at', '2099-01-01', '--expires-in', '7d'], 'Arguments expires-at and expires-in are mutually exclusive\n'],
    [['--name', 'Jane'], 'a name goes with an email: give --email too\n'],
    [['--email', 'not-an-email'], 'invalid email "not-an-email"\n'],
  ])('%j is exit 2 and writes nothing', async (args, message) => {
    const r = await ctl(['user', 'invite', ...args]);
    expect(r.code).toBe(2);
    if (typeof message === 'string') expect(r.stderr).toBe(message);
    else expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(await invites()).toEqual([]);
  });

  test('--email without mail configured: the invite is made, the link printed, and it says plainly no mail was sent', async () => {
    const r = await ctl(['user', 'invite', '--email', 'jane@example.com', '--name', 'Jane Doe']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Generated user invite token one time\\nhttp://ctl\\.test/registration/${TOKEN}\\n$`));
    expect(r.stderr).toBe(NO_MAIL);
    expect((await invites())[0]).toMatchObject({ email: 'jane@example.com', name: 'Jane Doe' });
    // The invite belongs to that address.
    const token = tokenOf(r.stdout.trim().split('\n')[1]);
    await expect(register(token, 'mallory')).rejects.toThrow(new ConflictError('this invite was sent to another email address'));
    expect((await register(token, 'jane')).user.email).toBe('jane@example.com');
  });

  test('an email that already has an account is exit 4', async () => {
    await ctl(['user', 'new', 'jane', 'jane@example.com', '-y', '--password', 'a-good-password']);
    const r = await ctl(['user', 'invite', '--email', 'JANE@example.com']);
    expect(r).toMatchObject({ code: 4, stdout: '', stderr: 'email JANE@example.com is already taken\n' });
    expect(await invites()).toEqual([]);
  });

  test('--dry-run says what would be made and writes nothing; --json gives the invite, its token and URL', async () => {
    const dry = await ctl(['user', 'invite', '--max-use', '3', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: 'Would generate user invite token reusable (dry run)\n', stderr: '' });
    expect(await invites()).toEqual([]);
    const j = await ctl(['user', 'invite', '--max-use', '3', '--expires-at', '2099-01-31', '--json']);
    expect(j.code).toBe(0);
    expect(j.stderr).toBe('Generated user invite token reusable date limited\n');
    const out = JSON.parse(j.stdout);
    expect(out).toEqual({
      id: 1,
      tokenPrefix: out.token.slice(0, 6),
      type: 'reusable_date_limited',
      status: 'valid',
      used: false,
      uses: 0,
      maxUse: 3,
      usesLeft: 3,
      expiresAt: '2099-01-31',
      email: null,
      name: null,
      createdAt: expect.any(String),
      revokedAt: null,
      token: expect.stringMatching(new RegExp(`^${TOKEN}$`)),
      url: `http://ctl.test/registration/${out.token}`,
      mail: [],
    });
  });
});

describe('ctl user invite, with mail', () => {
  test('invite --email mails the invitation; its link registers that address exactly once', async () => {
    const r = await mailCtl(['user', 'invite', '--email', 'jane@example.com', '--name', 'Jane Doe', '--expires-at', '2099-06-30']);
    expect(r.code).toBe(0);
    const printed = r.stdout.split('\n')[1];
    expect(r.stdout).toBe(`Generated user invite token date limited\n${printed}\nInvitation mailed to jane@example.com\n`);
    expect(r.stderr).toBe('');
    const [mail] = await smtp.waitFor(1);
    expect(mail.envelopeTo).toEqual(['jane@example.com']);
    expect(mail.to).toBe('"Jane Doe" <jane@example.com>');
    expect(mail.from).toBe('"Example Social" <no-reply@social.example>');
    expect(mail.subject).toBe('You are invited to join ctl.test');
    expect(mail.text).toContain('The invitation works until the end of 2099-06-30 (UTC).');
    expect(mail.textLinks).toEqual([printed, 'http://ctl.test']);
    expect(mail.htmlLinks).toContain(printed);
    const token = tokenOf(mail.textLinks[0]);
    const user = { nickname: 'jane', email: 'jane@example.com', password: 'janes-password' };
    const created = await lib((ctx) => redeemInvite(ctx, token, user, TEST_SETTINGS));
    expect(created.user.nickname).toBe('jane');
    await expect(lib((ctx) => redeemInvite(ctx, token, { ...user, nickname: 'jane2' }, TEST_SETTINGS))).rejects.toThrow(
      new ConflictError('this invite has already been used'),
    );
    expect(smtp.messages).toHaveLength(1);
  });

  test('--skip-email (as on every other mailing verb): bound to the address, printed, not mailed', async () => {
    const dry = await mailCtl(['user', 'invite', '--email', 'jane@example.com', '--skip-email', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: 'Would generate user invite token one time (dry run)\n', stderr: '' });
    const r = await mailCtl(['user', 'invite', '--email', 'jane@example.com', '--skip-email']);
    expect(r.stdout).toMatch(new RegExp(`^Generated user invite token one time\\nhttp://ctl\\.test/registration/${TOKEN}\\n$`));
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(await invites()).toMatchObject([{ email: 'jane@example.com' }]);
    // Only the next invite's mail arrives: the first one was never sent.
    expect((await mailCtl(['user', 'invite', '--email', 'joe@example.com'])).code).toBe(0);
    const [mail] = await smtp.waitFor(1);
    expect(mail.envelopeTo).toEqual(['joe@example.com']);
    expect(smtp.messages).toHaveLength(1);
    // The address still binds the skipped invite: another one cannot register with it.
    await expect(register(tokenOf(r.stdout.trim()), 'mallory')).rejects.toThrow(new ConflictError('this invite was sent to another email address'));
  });

  test('SMTP_HOST, SMTP_PORT, SMTP_USER and SMTP_PASSWORD reach a server that wants credentials', async () => {
    const authed = await startSmtp({ auth: { user: 'mailer', pass: 'p4ss word' } });
    try {
      const env = { SMTP_URL: undefined, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(authed.port), SMTP_USER: 'mailer', SMTP_PASSWORD: 'p4ss word' };
      const r = await mailCtl(['user', 'invite', '--email', 'dan@example.com'], { env });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Invitation mailed to dan@example.com\n');
      const [mail] = await authed.waitFor(1);
      expect(mail).toMatchObject({ user: 'mailer', envelopeTo: ['dan@example.com'] });
    } finally {
      await authed.close();
    }
  });

  test('the invite is saved, its link printed and working, and the exit is 7 saying so', async () => {
    const port = await closedPort();
    const r = await mailCtl(['user', 'invite', '--email', 'jane@example.com'], { env: { SMTP_URL: `smtp://user:hunter2@127.0.0.1:${port}` } });
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(new RegExp(`^Generated user invite token one time\\nhttp://ctl\\.test/registration/${TOKEN}\\n$`));
    expect(r.stderr).toMatch(
      new RegExp(
        `^Invite 1 was saved, but the invitation could not be mailed to jane@example\\.com \\([^\\n]*ECONNREFUSED[^\\n]*\\); pass the link above on yourself\\n$`,
      ),
    );
    expect(r.stderr).not.toContain('hunter2');
    const token = tokenOf(r.stdout.trim().split('\n')[1]);
    const created = await lib((ctx) => redeemInvite(ctx, token, { nickname: 'jane', email: 'jane@example.com', password: 'janes-password' }, TEST_SETTINGS));
    expect(created.user.nickname).toBe('jane');
  });

  test('a bad mail setting is exit 6 naming it, before anything is written', async () => {
    const r = await mailCtl(['user', 'invite', '--email', 'jane@example.com'], { env: { SMTP_URL: undefined, SMTP_HOST: 'mail.example', SMTP_PORT: 'abc' } });
    expect(r).toMatchObject({ code: 6, stdout: '', stderr: 'SMTP_PORT has a bad value "abc": not a whole number\n' });
    expect(await tdb.withDb(({ db }) => db.selectFrom('invites').select('id').execute())).toEqual([]);
  });
});
