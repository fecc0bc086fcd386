import { libContext, TEST_SETTINGS } from '../../helpers/backend';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { tokenOf, type TestSmtp, useTestSmtp } from '../../helpers/smtp';
import { checkPasswordResetToken, resetPasswordWithToken } from '../../../lib/user/reset_password';
import { verifyPassword } from '../../../lib/auth/passwords';
import { ConflictError } from '../../../lib/errors';
import { liveTokenKindsOf, seedFollowsAndSessions } from '../../helpers/cli-scenarios';
import { auditTrail } from '../../helpers/table-state';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const TOKEN = '[A-Za-z0-9_][A-Za-z0-9_-]{42}';
const NO_MAIL = 'No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the link above on yourself\n';

let smtp: TestSmtp;
useTestSmtp((s) => (smtp = s));

const MAIL_ENV = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'Example Social <no-reply@social.example>' });
/** ctl with mail configured, through the file's SMTP server. */
const mailCtl = (args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}) =>
  ctl(args, { ...opts, env: { ...MAIL_ENV(), ...opts.env } });
const lib = <T>(fn: (ctx: ReturnType<typeof libContext>) => Promise<T>) => tdb.withDb((h) => fn(libContext(h)));

describe('ctl user reset_password on an account that signs in through an identity provider', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'old-password']);
    await tdb.withDb((h) => h.db.updateTable('users').set({ provider: 'ldap' }).where('nickname', '=', 'alice').execute());
  });

  test.each([[[]], [['--dry-run']], [['--password-stdin']]])('exit 4 naming the provider, nothing issued or changed (%j)', async (extra) => {
    const r = await ctl(['user', 'reset_password', 'alice', ...extra], { input: 'new-password\n' });
    expect(r).toMatchObject({ code: 4, stdout: '', stderr: 'alice signs in through ldap: change the password there\n' });
    await tdb.withDb(async (h) => {
      expect(await h.db.selectFrom('tokens').select('id').execute()).toEqual([]);
      const row = await h.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow();
      expect(await verifyPassword('old-password', row.password_hash)).toBe(true);
    });
  });
});

describe('ctl user reset_password, without mail', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'old-password']);
  });

  test("reset_password prints Pleroma's two lines; the link sets a password once and signs out", async () => {
    const r = await ctl(['user', 'reset_password', 'ALICE']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Generated password reset token for alice\\nURL: http://ctl\\.test/password_reset/${TOKEN}\\n$`));
    expect(r.stderr).toBe(NO_MAIL);
    const token = tokenOf(r.stdout.trim());
    await tdb.withDb(async (h) => {
      expect(await checkPasswordResetToken(h.db, token, new Date())).toEqual({ status: 'valid', nickname: 'alice' });
      await resetPasswordWithToken(libContext(h), token, 'new-password', TEST_SETTINGS);
      await expect(resetPasswordWithToken(libContext(h), token, 'other-password', TEST_SETTINGS)).rejects.toThrow(ConflictError);
      const row = await h.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow();
      expect(await verifyPassword('new-password', row.password_hash)).toBe(true);
    });
  });

  test('reset_password: --skip-email says nothing about mail; unknown user exit 3; --dry-run writes nothing', async () => {
    const skip = await ctl(['user', 'reset_password', 'alice', '--skip-email']);
    expect(skip).toMatchObject({ code: 0, stderr: '' });
    expect(await ctl(['user', 'reset_password', 'bob'])).toMatchObject({ code: 3, stdout: '', stderr: 'No local user bob\n' });
    const dry = await ctl(['user', 'reset_password', 'alice', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: 'Would generate password reset token for alice (dry run)\n' });
    const tokens = await tdb.withDb(({ db }) => db.selectFrom('tokens').select('kind').execute());
    expect(tokens).toEqual([{ kind: 'password_reset' }]);
  });

  test('reset_password with --password-stdin sets it directly; --random-password prints one once', async () => {
    const r = await ctl(['user', 'reset_password', 'alice', '--password-stdin'], { input: 'chosen-password\n' });
    expect(r).toMatchObject({ code: 0, stdout: 'Password of alice changed; 0 sessions signed out\n', stderr: '' });
    const rnd = await ctl(['user', 'reset_password', 'alice', '--random-password', '--json']);
    expect(rnd.code).toBe(0);
    const out = JSON.parse(rnd.stdout);
    expect(out).toEqual({ userId: 1, nickname: 'alice', sessionsRevoked: 0, resetLinksRevoked: 0, password: expect.stringMatching(/^[A-Za-z0-9_-]{20}$/) });
    const hash = await tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow()).password_hash);
    expect(await verifyPassword(out.password, hash)).toBe(true);
    expect(await ctl(['user', 'reset_password', 'alice', '--password-stdin'], { input: 'short\n' })).toMatchObject({
      code: 2,
      stderr: 'the password is too short: at least 8 characters\n',
    });
  });
});

describe('ctl user reset_password --keep-sessions (README: sessions are revoked unless --keep-sessions)', () => {
  // alice has an access, a refresh and an authorization token, and a pending reset link.
  beforeEach(() => tdb.withDb((h) => seedFollowsAndSessions(h.db)));
  const liveTokens = () => tdb.withDb((h) => liveTokenKindsOf(h.db, 'alice'));

  test('a password set directly leaves the sessions live, still retires the reset links, and says so', async () => {
    const r = await ctl(['user', 'reset_password', 'alice', '--password-stdin', '--keep-sessions'], { input: 'chosen-password\n' });
    expect(r).toMatchObject({ code: 0, stdout: 'Password of alice changed; sessions kept\n', stderr: '' });
    expect(await liveTokens()).toEqual(['access', 'refresh', 'authorization']);
    expect(await tdb.withDb((h) => auditTrail(h.db))).toEqual([
      {
        verb: 'set_password',
        actor: 'tester',
        target_nickname: 'alice',
        reason: null,
        details: { sessionsRevoked: 0, resetLinksRevoked: 1, keptSessions: true },
      },
    ]);
    const hash = await tdb.withDb(
      async ({ db }) => (await db.selectFrom('users').select('password_hash').where('nickname', '=', 'alice').executeTakeFirstOrThrow()).password_hash,
    );
    expect(await verifyPassword('chosen-password', hash)).toBe(true);
  });

  test('--dry-run says the sessions would be kept; without the flag every session goes', async () => {
    const dry = await ctl(['user', 'reset_password', 'alice', '--random-password', '--keep-sessions', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: 'Password of alice would be changed and sessions kept (dry run)\n' });
    const r = await ctl(['user', 'reset_password', 'alice', '--password-stdin'], { input: 'chosen-password\n' });
    expect(r).toMatchObject({ code: 0, stdout: 'Password of alice changed; 3 sessions signed out\n' });
    expect(await liveTokens()).toEqual([]);
  });

  test('with a reset link (which signs the user out when used) it is exit 2, and nothing is issued', async () => {
    const r = await ctl(['user', 'reset_password', 'alice', '--keep-sessions']);
    expect(r).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        '--keep-sessions goes with a password set here (--password-stdin, --password-file, --random-password or a new password): a reset link always signs the user out\n',
    });
    expect(await liveTokens()).toEqual(['access', 'refresh', 'authorization', 'password_reset']);
  });
});

describe('ctl user reset_password, with mail', () => {
  test('reset_password mails the reset link; --json reports it', async () => {
    await mailCtl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'old-password']);
    const r = await mailCtl(['user', 'reset_password', 'alice', '--json']);
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
});
