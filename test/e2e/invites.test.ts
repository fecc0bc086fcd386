import { libContext, TEST_SETTINGS, type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';
import { tokenOf } from '../helpers/smtp';
import { checkInvite, redeemInvite } from '../../lib/invites/invites';
import { checkPasswordResetToken, resetPasswordWithToken } from '../../lib/user/reset_password';
import { confirmEmail } from '../../lib/tokens/confirmation';
import { verifyPassword } from '../../lib/auth/passwords';
import { ConflictError } from '../../lib/errors';

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);
const TOKEN = '[A-Za-z0-9_][A-Za-z0-9_-]{42}';
const NO_MAIL = 'No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the link above on yourself\n';
const today = () => new Date().toISOString().slice(0, 10);
const inDays = (n: number) => new Date(Date.now() + n * 86400e3).toISOString().slice(0, 10);
const invites = () => tdb.withDb(({ db }) => db.selectFrom('invites').selectAll().orderBy('id').execute());
const register = (token: string, nickname: string) =>
  tdb.withDb((h) => redeemInvite(libContext(h), token, { nickname, email: `${nickname}@example.com`, password: 'a-good-password' }, TEST_SETTINGS));

describe('ctl user invite', () => {
  test.each([
    [[], 'one time', 'one_time', null, null],
    [['--expires-at', '2099-12-31'], 'date limited', 'date_limited', '2099-12-31', null],
    [['--max-use', '7'], 'reusable', 'reusable', null, 7],
    [['--max-use', '7', '--expires-in', '7d'], 'reusable date limited', 'reusable_date_limited', 'in7', 7],
  ])('%j: Pleroma\'s line, then the URL on its own line, and the printed token registers', async (args, label, type, expires, maxUse) => {
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
    [['--expires-at', '2020-01-01'], /^--expires-at 2020-01-01 is in the past: the last day an invite works cannot be before today \(\d{4}-\d\d-\d\d, UTC\)\n$/],
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
    const r = await ctl(['user', 'invite', ...(args as string[])]);
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

describe('ctl user invites / revoke_invite', () => {
  test('lists usable invites by default and every one with --all, never a token', async () => {
    const made = [];
    for (const args of [[], ['--max-use', '2'], [], ['--expires-at', today()]]) {
      made.push(tokenOf((await ctl(['user', 'invite', ...args])).stdout.trim().split('\n')[1]));
    }
    await register(made[0], 'alice');
    await ctl(['user', 'revoke_invite', made[2]]);
    const r = await ctl(['user', 'invites']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'TOKEN', 'TYPE', 'STATUS', 'USED', 'EXPIRES AT', 'MAX USE', 'USES LEFT', 'CREATED', 'EMAIL']);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      ['2', `${made[1].slice(0, 6)}…`, 'reusable', 'valid', 'no', '-', '2', '2', today(), '-'],
      ['4', `${made[3].slice(0, 6)}…`, 'date_limited', 'valid', 'no', today(), '-', '1', today(), '-'],
    ]);
    const all = JSON.parse((await ctl(['user', 'invites', '--all', '--json'])).stdout);
    expect(all.map((i: { id: number; status: string; usesLeft: number }) => [i.id, i.status, i.usesLeft])).toEqual([
      [1, 'used', 0],
      [2, 'valid', 2],
      [3, 'revoked', 0],
      [4, 'valid', 1],
    ]);
    const everything = (await ctl(['user', 'invites', '--all'])).stdout + JSON.stringify(all) + (await ctl(['user', 'invites', '--all', '--format', 'csv'])).stdout;
    for (const token of made) expect(everything).not.toContain(token);
  });

  test('revoke by token (Pleroma\'s message), by id or by pasted URL; the token then no longer registers', async () => {
    const out = (await ctl(['user', 'invite', '--max-use', '5'])).stdout.trim().split('\n');
    const token = tokenOf(out[1]);
    const dry = await ctl(['user', 'revoke_invite', token, '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: `Invite for token ${token} would be revoked (dry run)\n` });
    expect((await invites())[0].revoked_at).toBeNull();
    const r = await ctl(['user', 'revoke_invite', token]);
    expect(r).toMatchObject({ code: 0, stdout: `Invite for token ${token} was revoked.\n`, stderr: '' });
    const again = await ctl(['user', 'revoke-invite', token]);
    expect(again).toMatchObject({ code: 0, stdout: `Invite for token ${token} was already revoked.\n` });
    await expect(register(token, 'alice')).rejects.toThrow(new ConflictError('this invite was revoked'));
    expect((await tdb.withDb(({ db }) => checkInvite(db, token, new Date()))).status).toBe('revoked');

    await ctl(['user', 'invite']);
    const byId = await ctl(['user', 'revoke_invite', '2', '--json']);
    expect(byId.code).toBe(0);
    expect(byId.stderr).toBe('Invite 2 was revoked.\n');
    expect(JSON.parse(byId.stdout)).toMatchObject({ id: 2, status: 'revoked', used: true, alreadyRevoked: false });

    const url = (await ctl(['user', 'invite'])).stdout.trim().split('\n')[1];
    expect((await ctl(['user', 'revoke_invite', url])).stdout).toBe(`Invite for token ${url} was revoked.\n`);
    expect((await invites()).map((i) => i.used)).toEqual([true, true, true]);
  });

  test('an unknown token is exit 3 with Pleroma\'s message', async () => {
    const r = await ctl(['user', 'revoke_invite', 'NoSuchToken']);
    expect(r).toMatchObject({ code: 3, stdout: '', stderr: 'No invite found with token NoSuchToken\n' });
    expect(await ctl(['user', 'revoke_invite', '42'])).toMatchObject({ code: 3, stderr: 'No invite found with id 42\n' });
  });
});

describe('ctl user reset_password / send_confirmation / new, without mail', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'old-password']);
  });

  test('reset_password prints Pleroma\'s two lines; the link sets a password once and signs out', async () => {
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
    expect(await ctl(['user', 'reset_password', 'alice', '--password-stdin'], { input: 'short\n' })).toMatchObject({ code: 2, stderr: 'the password is too short: at least 8 characters\n' });
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

  test('send_confirmation prints a fresh link for an unconfirmed user; a confirmed one needs none', async () => {
    const confirmed = await ctl(['user', 'send_confirmation', 'alice']);
    expect(confirmed).toMatchObject({ code: 0, stdout: "alice doesn't need confirmation.\n", stderr: '' });
    await ctl(['user', 'new', 'dave', 'dave@example.com', '-y', '--no-confirmed', '--password', 'a-good-password']);
    const r = await ctl(['user', 'send-confirmation', 'dave@example.com']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Generated email confirmation token for dave\\nURL: http://ctl\\.test/verify/${TOKEN}\\n$`));
    expect(r.stderr).toBe(NO_MAIL);
    await tdb.withDb((h) => confirmEmail(libContext(h), tokenOf(r.stdout.trim())));
    expect(await ctl(['user', 'send_confirmation', 'nobody'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
  });
});
