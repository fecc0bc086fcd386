import { libContext, TEST_SETTINGS, type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';
import { closedPort, startSmtp, tokenOf, type TestSmtp, useTestSmtp } from '../helpers/smtp';
import { redeemInvite } from '../../lib/invites/invites';
import { resetPasswordWithToken } from '../../lib/user/reset_password';
import { confirmEmail } from '../../lib/tokens/confirmation';
import { ConflictError } from '../../lib/errors';

let tdb: TestDatabase;
let smtp: TestSmtp;
useCliTestDatabase((d) => (tdb = d));
useTestSmtp((s) => (smtp = s));

const MAIL_ENV = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'Example Social <no-reply@social.example>' });
const ctl = (args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}) => runCtl(tdb, args, { ...opts, env: { ...MAIL_ENV(), ...opts.env } });
const lib = <T>(fn: (ctx: ReturnType<typeof libContext>) => Promise<T>) => tdb.withDb((h) => fn(libContext(h)));
const TOKEN = '[A-Za-z0-9_][A-Za-z0-9_-]{42}';

describe('mail through a real SMTP server', () => {
  test('invite --email mails the invitation; its link registers that address exactly once', async () => {
    const r = await ctl(['user', 'invite', '--email', 'jane@example.com', '--name', 'Jane Doe', '--expires-at', '2099-06-30']);
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
    await expect(lib((ctx) => redeemInvite(ctx, token, { ...user, nickname: 'jane2' }, TEST_SETTINGS))).rejects.toThrow(new ConflictError('this invite has already been used'));
    expect(smtp.messages).toHaveLength(1);
  });

  test('new without a password and --no-confirmed mails both links; each works once through lib/', async () => {
    const r = await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--no-confirmed', '--name', 'Bob B.']);
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
    expect((await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--skip-email'])).code).toBe(0);
    const r = await ctl(['user', 'reset_password', 'bob', '--skip-email']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^Generated password reset token for bob\\nURL: http://ctl\\.test/password_reset/${TOKEN}\\n$`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.messages).toHaveLength(0);
  });

  test('reset_password mails the reset link; --json reports it', async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'old-password']);
    const r = await ctl(['user', 'reset_password', 'alice', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('Generated password reset token for alice\nPassword reset link mailed to alice@example.com\n');
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({
      userId: 1,
      nickname: 'alice',
      token: expect.any(String),
      url: `http://ctl.test/password_reset/${out.token}`,
      expiresAt: expect.any(String),
      mail: [{ kind: 'password_reset', to: 'alice@example.com', status: 'sent', error: null }],
    });
    const [mail] = await smtp.waitFor(1);
    expect(mail).toMatchObject({ envelopeTo: ['alice@example.com'], subject: 'Reset your password for ctl.test' });
    expect(mail.textLinks[0]).toBe(out.url);
    await lib((ctx) => resetPasswordWithToken(ctx, tokenOf(mail.textLinks[0]), 'new-password', TEST_SETTINGS));
  });

  test('send_confirmation mails a confirmation link that confirms the address', async () => {
    await ctl(['user', 'new', 'carol', 'carol@example.com', '-y', '--password', 'a-good-password', '--no-confirmed', '--skip-email']);
    const r = await ctl(['user', 'send_confirmation', 'carol']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Generated email confirmation token for carol\\nURL: http://ctl\\.test/verify/${TOKEN}\\nConfirmation link mailed to carol@example.com\\n$`));
    const [mail] = await smtp.waitFor(1);
    expect(mail).toMatchObject({ envelopeTo: ['carol@example.com'], subject: 'Confirm your email address for ctl.test' });
    await lib((ctx) => confirmEmail(ctx, tokenOf(mail.textLinks[0])));
    expect(JSON.parse((await ctl(['user', 'show', 'carol', '--json'])).stdout).confirmed).toBe(true);
  });

  test('SMTP_HOST, SMTP_PORT, SMTP_USER and SMTP_PASSWORD reach a server that wants credentials', async () => {
    const authed = await startSmtp({ auth: { user: 'mailer', pass: 'p4ss word' } });
    try {
      const env = { SMTP_URL: undefined, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(authed.port), SMTP_USER: 'mailer', SMTP_PASSWORD: 'p4ss word' };
      const r = await ctl(['user', 'invite', '--email', 'dan@example.com'], { env });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Invitation mailed to dan@example.com\n');
      const [mail] = await authed.waitFor(1);
      expect(mail).toMatchObject({ user: 'mailer', envelopeTo: ['dan@example.com'] });
    } finally {
      await authed.close();
    }
  });
});

describe('rm: the account-deleted notice', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'a-good-password', '--name', 'Alice A.']);
    await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--password', 'a-good-password']);
  });

  test('a soft delete mails the notice with the restore deadline; a purge says it cannot be restored', async () => {
    const r = await ctl(['user', 'rm', 'alice']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^User alice deleted\.\nRestorable until (\d{4}-\d\d-\d\d) with: ctl user restore alice\nAccount-deleted notice mailed to alice@example\.com\n$/);
    const [soft] = await smtp.waitFor(1);
    expect(soft).toMatchObject({ envelopeTo: ['alice@example.com'], subject: 'Your account on ctl.test was deleted' });
    expect(soft.text).toMatch(/^Hello Alice A\.,\n/);
    expect(soft.text).toContain(`before ${r.stdout.split('\n')[1].slice(17, 27)}`);
    expect(soft.text).toContain('until then the account can be restored');

    const p = await ctl(['user', 'rm', 'bob', '--purge', '-y']);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/User bob deleted\.\nDeleted:\n[\s\S]*Account-deleted notice mailed to bob@example\.com\n$/);
    const [, purged] = await smtp.waitFor(2);
    expect(purged.envelopeTo).toEqual(['bob@example.com']);
    expect(purged.text).toContain('cannot be restored');
  });

  test('--skip-email, --dry-run and an already deleted account mail nothing', async () => {
    expect((await ctl(['user', 'rm', 'alice', '--dry-run'])).code).toBe(0);
    expect((await ctl(['user', 'rm', 'alice', '--skip-email'])).stdout).not.toContain('mailed');
    expect((await ctl(['user', 'rm', 'alice'])).stdout).toBe('User alice already deleted.\n');
    expect((await ctl(['user', 'rm', 'bob', '--purge', '-y', '--skip-email'])).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.messages).toHaveLength(0);
  });

  test('a failed notice is exit 7 after the deletion was saved', async () => {
    const port = await closedPort();
    const r = await ctl(['user', 'rm', 'alice'], { env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(/^User alice deleted\.\n/);
    expect(r.stderr).toMatch(/^User alice was deleted, but the account-deleted notice could not be mailed to alice@example\.com \(.*ECONNREFUSED.*\); the user was not notified\n$/);
    expect(JSON.parse((await ctl(['user', 'list', '--deleted', '--json'])).stdout).map((u: { nickname: string }) => u.nickname)).toEqual(['alice']);
  });
});

describe('when mail cannot be sent', () => {
  test('the invite is saved, its link printed and working, and the exit is 7 saying so', async () => {
    const port = await closedPort();
    const r = await ctl(['user', 'invite', '--email', 'jane@example.com'], { env: { SMTP_URL: `smtp://user:hunter2@127.0.0.1:${port}` } });
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(new RegExp(`^Generated user invite token one time\\nhttp://ctl\\.test/registration/${TOKEN}\\n$`));
    expect(r.stderr).toMatch(
      new RegExp(`^Invite 1 was saved, but the invitation could not be mailed to jane@example\\.com \\([^\\n]*ECONNREFUSED[^\\n]*\\); pass the link above on yourself\\n$`),
    );
    expect(r.stderr).not.toContain('hunter2');
    const token = tokenOf(r.stdout.trim().split('\n')[1]);
    const created = await lib((ctx) => redeemInvite(ctx, token, { nickname: 'jane', email: 'jane@example.com', password: 'janes-password' }, TEST_SETTINGS));
    expect(created.user.nickname).toBe('jane');
  });

  test('new: the user is created, --json still prints the result, and the exit is 7', async () => {
    const port = await closedPort();
    const r = await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--json'], { env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    expect(r.code).toBe(7);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ nickname: 'bob', mail: [{ kind: 'set_password', to: 'bob@example.com', status: 'failed', error: expect.stringContaining('ECONNREFUSED') }] });
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^User bob was created, but the set-password link could not be mailed to bob@example\.com \(.*ECONNREFUSED.*\); pass the link above to bob yourself$/);
    await lib((ctx) => resetPasswordWithToken(ctx, tokenOf(out.passwordResetUrl), 'bobs-password', TEST_SETTINGS));
  });

  test('a bad mail setting is exit 6 naming it, before anything is written', async () => {
    const r = await ctl(['user', 'invite', '--email', 'jane@example.com'], { env: { SMTP_URL: undefined, SMTP_HOST: 'mail.example', SMTP_PORT: 'abc' } });
    expect(r).toMatchObject({ code: 6, stdout: '', stderr: 'SMTP_PORT has a bad value "abc": not a whole number\n' });
    expect(await tdb.withDb(({ db }) => db.selectFrom('invites').select('id').execute())).toEqual([]);
  });
});
