import { sql } from 'kysely';
import { createInvite } from '../../lib/invites/invites';
import { createConfirmation } from '../../lib/tokens/confirmation';
import { checkPasswordResetToken, createPasswordReset } from '../../lib/user/reset_password';
import { tokenOf, useTestSmtp, type HeldMail, type TestSmtp } from '../helpers/smtp';
import { addUser, bearer, loginAs, useTestServer, type TestServer } from './helpers';

/**
 * Issue 13's attacks on identities (look-alike emails, links outliving their address, registration
 * as an oracle, unverified invites, avatars, cross-site forms), performed against a real `ctl
 * serve` app listening on 127.0.0.1 with real HTTP requests (SECURITY.md names each defence).
 */
let server: TestServer;
let base: string;
let smtp: TestSmtp;
const control = useTestServer((s) => (server = s));
useTestSmtp((s) => (smtp = s));

async function listen(env: Record<string, string> = {}): Promise<void> {
  await control.restart(env);
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
}

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly text: string;
  readonly body: Record<string, unknown>;
}

async function send(method: string, url: string, body?: string | FormData, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}${url}`, { method, headers, body });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, text, body: type.startsWith('application/json') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const postJson = (url: string, payload: object, headers: Record<string, string> = {}) =>
  send('POST', url, JSON.stringify(payload), { 'content-type': 'application/json', ...headers });
const postForm = (url: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  send('POST', url, new URLSearchParams(form).toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });

async function invite(input: { email?: string; maxUse?: number } = {}): Promise<string> {
  return server.withDb(async (_db, ctx) => (await createInvite(ctx, input, { appUrl: server.config.appUrl })).token);
}

async function users(): Promise<Array<{ nickname: string; email: string | null; confirmed: boolean }>> {
  return server.withDb((db) => db.selectFrom('users').select(['nickname', 'email', 'confirmed']).orderBy('id').execute());
}

const register = (payload: Record<string, unknown>) => postJson('/api/auth/register', { password: 'correct-horse', ...payload });

describe('look-alike emails (issue 13, finding 5)', () => {
  beforeEach(() => listen());

  test('an invite bound to kate@example.com registers the Kelvin-sign \u212Aate@example.com only as kate’s own address, and no look-alike gets a second account', async () => {
    const forKate = await invite({ email: 'kate@example.com' });
    const first = await register({ username: 'kate', email: '\u212Aate@example.com', inviteToken: forKate });
    expect(first.status).toBe(201);
    const open = await invite({ maxUse: 5 });
    for (const [i, email] of ['kate@example.com', '\u212Aate@example.com', '\uff4bate@example.com', 'KATE@EXAMPLE.COM'].entries()) {
      const again = await register({ username: `squatter${i}`, email, inviteToken: open });
      expect([email, again.status, again.body.message]).toEqual([email, 409, `email ${email.normalize('NFKC')} is already taken`]);
    }
    expect((await users()).map((u) => u.nickname)).toEqual(['kate']);
    const shown = await server.ctl(['user', 'show', '\uff4bate@example.com', '--json']);
    expect([shown.code, JSON.parse(shown.stdout).nickname]).toEqual([0, 'kate']);
  });

  test('a look-alike stored before the rule (as an app or an older version wrote it) is the one owner: the invite for kate@example.com cannot make a second account, and show finds the owner', async () => {
    await addUser(server, { nickname: 'early' });
    // Written raw, as the database allowed before the email_key index: fullwidth ｋ.
    await server.withDb((db) => db.updateTable('users').set({ email: '\uff4bate@example.com' }).where('nickname', '=', 'early').execute());
    const forKate = await invite({ maxUse: 1 });
    const res = await register({ username: 'kate', email: 'kate@example.com', inviteToken: forKate });
    expect([res.status, res.body.message]).toEqual([409, 'email kate@example.com is already taken']);
    expect((await users()).map((u) => u.nickname)).toEqual(['early']);
    const shown = await server.ctl(['user', 'show', 'kate@example.com', '--json']);
    expect([shown.code, JSON.parse(shown.stdout).nickname]).toEqual([0, 'early']);
  });

  test('the database itself refuses a look-alike written past the checks (an app inserting directly)', async () => {
    await addUser(server, { nickname: 'kate' });
    const raw = server.withDb((db) => db.insertInto('users').values({ nickname: 'squatter', email: '\uff4bate@example.com', name: 'S' }).execute());
    await expect(raw).rejects.toMatchObject({ code: '23505', constraint: 'users_email_key' });
  });
});

describe('links tied to the address and state they were issued for (issue 13, finding 9)', () => {
  beforeEach(() => listen());

  async function confirmationLink(nickname: string): Promise<string> {
    return server.withDb(async (_db, ctx) => (await createConfirmation(ctx, nickname, server.config)).confirmation!.url);
  }
  async function resetLink(nickname: string): Promise<string> {
    return server.withDb(async (_db, ctx) => (await createPasswordReset(ctx, nickname, server.config)).url);
  }
  const path = (url: string) => new URL(url).pathname;

  test('after set --email, the confirmation link sent to the old address confirms nothing, and the old reset link is dead', async () => {
    await addUser(server, { nickname: 'erin', confirmed: false });
    const confirm = path(await confirmationLink('erin'));
    const reset = path(await resetLink('erin'));
    expect((await send('GET', confirm)).status).toBe(200);
    expect((await send('GET', reset)).status).toBe(200);
    expect((await server.ctl(['user', 'set', 'erin', '--email', 'new@example.com'])).code).toBe(0);
    expect((await send('GET', confirm)).status).toBe(410);
    expect((await send('POST', confirm)).status).toBe(410);
    expect((await users())[0]).toEqual({ nickname: 'erin', email: 'new@example.com', confirmed: false });
    expect((await send('GET', reset)).status).toBe(410);
    expect((await postForm(reset, { password: 'taken-over!', confirm_password: 'taken-over!' })).status).toBe(410);
    expect(await loginAs(server, 'erin')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A link issued for the new address works.
    expect((await send('POST', path(await confirmationLink('erin')))).status).toBe(200);
    expect((await users())[0].confirmed).toBe(true);
  });

  test('a reset link stops working at deactivate (also after activate again) and after rm', async () => {
    await addUser(server, { nickname: 'erin' });
    const before = path(await resetLink('erin'));
    expect((await server.ctl(['user', 'deactivate', 'erin'])).code).toBe(0);
    const during = path(await resetLink('erin'));
    expect((await send('GET', before)).status).toBe(410);
    expect((await send('GET', during)).status).toBe(410);
    expect((await postForm(during, { password: 'taken-over!', confirm_password: 'taken-over!' })).status).toBe(410);
    expect((await server.ctl(['user', 'activate', 'erin'])).code).toBe(0);
    expect((await send('GET', before)).status).toBe(410);
    const after = path(await resetLink('erin'));
    expect((await send('GET', after)).status).toBe(200);
    expect((await server.ctl(['user', 'rm', 'erin', '-y'])).code).toBe(0);
    expect((await send('GET', after)).status).toBe(404);
  });
});

describe('registration as an oracle (issue 13, finding 7)', () => {
  test('25 simultaneous registrations probing taken addresses from one address: 20 answered, 5 refused with 429; a success does not count', async () => {
    await listen({ CTL_REGISTRATIONS_OPEN: 'yes' });
    for (let i = 0; i < 25; i++) await addUser(server, { nickname: `member${i}` });
    const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => register({ username: `probe${i}`, email: `member${i}@example.com` })));
    const counts: Record<number, number> = {};
    for (const { status } of answers) counts[status] = (counts[status] ?? 0) + 1;
    expect(counts).toEqual({ 409: 20, 429: 5 });
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.body).toMatchObject({ message: 'Too many registration attempts; try again later' });
    await listen({ CTL_REGISTRATIONS_OPEN: 'yes', CTL_LOGIN_MAX_FAILURES_PER_ADDRESS: '2' });
    for (let i = 0; i < 3; i++) expect((await register({ username: `new${i}`, email: `new${i}@example.com` })).status).toBe(201);
    await addUser(server, { nickname: 'member' });
    expect((await register({ username: 'x', email: 'member@example.com' })).status).toBe(409);
    expect((await register({ username: 'y', email: 'member@example.com' })).status).toBe(409);
    expect((await register({ username: 'z', email: 'member@example.com' })).status).toBe(429);
  });

  test('probing a taken email spends a use of the invite: a 3-use invite answers three probes, then is used up', async () => {
    await listen();
    for (const n of ['a', 'b', 'c', 'd']) await addUser(server, { nickname: n });
    const token = await invite({ maxUse: 3 });
    for (const n of ['a', 'b', 'c']) {
      expect((await register({ username: `probe-${n}`, email: `${n}@example.com`, inviteToken: token })).status).toBe(409);
    }
    const fourth = await register({ username: 'probe-d', email: 'd@example.com', inviteToken: token });
    expect([fourth.status, fourth.body.message]).toEqual([409, 'this invite has already been used']);
    const row = await server.withDb((db) => db.selectFrom('invites').select(['uses', 'used']).executeTakeFirstOrThrow());
    expect(row).toEqual({ uses: 3, used: true });
    const audit = await server.withDb((db) => db.selectFrom('audit_log').select('verb').where('verb', '=', 'spend_invite').execute());
    expect(audit).toHaveLength(3);
  });

  test('a taken nickname leaves the invite as it was (nicknames are public)', async () => {
    await listen();
    await addUser(server, { nickname: 'kate' });
    const token = await invite({ maxUse: 1 });
    expect((await register({ username: 'kate', email: 'someone@example.com', inviteToken: token })).status).toBe(409);
    expect((await register({ username: 'someone', email: 'someone@example.com', inviteToken: token })).status).toBe(201);
  });

  test('an address or nickname held by a deleted account is only "already taken" to a registrant: not that the account was deleted, nor its nickname (the CLI still says both)', async () => {
    await listen({ CTL_REGISTRATIONS_OPEN: 'yes' });
    await addUser(server, { nickname: 'hidden', email: 'carol@example.com' });
    expect((await server.ctl(['user', 'rm', 'hidden', '-y'])).code).toBe(0);
    const token = await invite({ maxUse: 5 });
    const answers = [
      await register({ username: 'probe1', email: 'carol@example.com', inviteToken: token }),
      await register({ username: 'probe2', email: 'carol@example.com' }),
      await register({ username: 'hidden', email: 'probe3@example.com', inviteToken: token }),
      await register({ username: 'hidden', email: 'probe4@example.com' }),
    ];
    expect(answers.map((a) => [a.status, a.body.message])).toEqual([
      [409, 'email carol@example.com is already taken'],
      [409, 'email carol@example.com is already taken'],
      [409, 'nickname hidden is already taken'],
      [409, 'nickname hidden is already taken'],
    ]);
    const page = await postForm(`/registration/${token}`, {
      username: 'probe5',
      email: 'carol@example.com',
      password: 'correct-horse',
      confirm_password: 'correct-horse',
    });
    expect(page.status).toBe(409);
    expect(page.text).toContain('Email carol@example.com is already taken.');
    expect(page.text).not.toContain('deleted');
    // The operator is still told who holds it and how to free it.
    const cli = await server.ctl(['user', 'new', 'probe6', 'carol@example.com', '-y', '--skip-email']);
    expect([cli.code, cli.stderr]).toEqual([4, expect.stringContaining('by the deleted account hidden (soft-deleted, kept until purged)')]);
  });
});

describe('requestPasswordReset as an oracle', () => {
  test('an account that signs in through an identity provider gets the same answer as a missing one, and no link', async () => {
    await listen();
    await addUser(server, { nickname: 'alice' });
    await addUser(server, { nickname: 'olga', password: null });
    await server.withDb((db) => db.updateTable('users').set({ provider: 'oidc' }).where('nickname', '=', 'olga').execute());
    const answers = [];
    for (const email of ['nobody@example.com', 'olga@example.com']) answers.push(await postJson('/api/auth/requestPasswordReset', { email }));
    const same = { message: 'If an account with that email exists, a password reset link has been sent to it.' };
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, same],
      [200, same],
    ]);
    // The look-ups run after the answers: once they are done, no mail and no link.
    await server.settled();
    expect(server.mailer.sent).toEqual([]);
    const links = await server.withDb((db) => db.selectFrom('tokens').select('id').where('kind', '=', 'password_reset').execute());
    expect(links).toEqual([]);
    // A local account still gets its link.
    expect((await postJson('/api/auth/requestPasswordReset', { email: 'alice@example.com' })).body).toEqual(same);
    await server.mailer.waitFor(1);
    expect(server.mailer.sent.map((m) => m.to.address)).toEqual(['alice@example.com']);
  });

  test("a local account whose address is a remote account's nickname still gets its link and signs in with it", async () => {
    await listen();
    await addUser(server, { nickname: 'dan', email: 'dan@remote.example' });
    await server.withDb((db) => db.insertInto('users').values({ nickname: 'dan@remote.example', email: null, name: 'dan', local: false }).execute());
    await postJson('/api/auth/requestPasswordReset', { email: 'dan@remote.example' });
    await server.mailer.waitFor(1);
    expect(server.mailer.sent.map((m) => m.to.address)).toEqual(['dan@remote.example']);
    const login = await postJson('/api/auth/login', { email: 'dan@remote.example', password: 'correct-horse' });
    expect([login.status, (login.body as { user?: { username?: string } }).user?.username]).toEqual([200, 'dan']);
  });
});

describe('the time of the answer as an oracle: requestPasswordReset and verify/resend', () => {
  // A tester's probe: with a mail server on loopback that took 200 ms to accept a message, an
  // address with an account was answered after its link was issued and mailed (0.25–0.5 s), an
  // unknown one at once (~0.02 s), with the same body. Here the mail server holds the message until
  // the test releases it, so the probe needs no clock: the answer must come while the mail is held.
  const withMail = () => listen({ SMTP_URL: smtp.url, MAIL_FROM: 'Example <no-reply@example.com>' });
  /** How long the test waits for an answer held back by the mail before it fails (a guard, not a measure). */
  const GUARD_MS = 15_000;

  /** The answer, or null when it did not come while `held` was held (it is released then, so nothing hangs). */
  async function answerWhileHeld(answering: Promise<Answer>, held: HeldMail): Promise<Answer | null> {
    let guard: NodeJS.Timeout | undefined;
    const waited = new Promise<null>((resolve) => (guard = setTimeout(() => resolve(null), GUARD_MS)));
    const answer = await Promise.race([answering, waited]);
    clearTimeout(guard);
    if (answer === null) {
      held.release();
      await answering;
    }
    return answer;
  }

  test.each([
    { url: '/api/auth/requestPasswordReset', account: {}, path: 'password_reset' },
    { url: '/api/user/verify/resend', account: { confirmed: false }, path: 'verify' },
  ])(
    '$url: an address with an account is answered while its mail is still held by the mail server, exactly as an unknown one; the mail then arrives with a working link',
    async ({ url, account, path }) => {
      await withMail();
      await addUser(server, { nickname: 'olga', ...account });
      const unknown = await postJson(url, { email: 'nobody@example.com' });
      const held = smtp.hold();
      const known = await answerWhileHeld(postJson(url, { email: 'olga@example.com' }), held);
      expect(known).not.toBeNull();
      // The mail was on its way when the answer came: received whole, not yet accepted.
      await held.arrived;
      expect(smtp.messages).toEqual([]);
      expect([known!.status, known!.type, known!.text]).toEqual([unknown.status, unknown.type, unknown.text]);
      expect(unknown.status).toBe(200);
      held.release();
      const [sent] = await smtp.waitFor(1);
      expect(sent.envelopeTo).toEqual(['olga@example.com']);
      const token = tokenOf(sent.textLinks.find((l) => l.includes(`/${path}/`))!);
      if (path === 'verify') {
        expect((await send('POST', `/verify/${token}`)).status).toBe(200);
        expect((await users())[0].confirmed).toBe(true);
      } else {
        const set = await postForm(`/password_reset/${token}`, { password: 'new-horse-pass', confirm_password: 'new-horse-pass' });
        expect(set.status).toBe(200);
        expect((await postJson('/api/auth/login', { login: 'olga', password: 'new-horse-pass' })).status).toBe(200);
      }
      // The limits count both addresses as before: one request per address per interval.
      for (const email of ['nobody@example.com', 'olga@example.com']) expect((await postJson(url, { email })).status).toBe(429);
    },
  );

  test('a server closed while the mail of a reset is held waits for it; the link mailed works', async () => {
    await withMail();
    await addUser(server, { nickname: 'olga' });
    const held = smtp.hold();
    const answer = await answerWhileHeld(postJson('/api/auth/requestPasswordReset', { email: 'olga@example.com' }), held);
    expect(answer?.status).toBe(200);
    await held.arrived;
    // What `ctl serve` does on SIGTERM: close the app (then the database and the mailer).
    let closed = false;
    const closing = server.app.close().then(() => (closed = true));
    try {
      // It stops taking connections at once...
      await expect(fetch(`${base}/health`)).rejects.toThrow();
      // ...and, given time, still does not finish while the mail is held.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(closed).toBe(false);
    } finally {
      held.release();
    }
    await closing;
    // Accepted before the close ended: no waiting here.
    expect(smtp.messages.map((m) => m.envelopeTo)).toEqual([['olga@example.com']]);
    const token = tokenOf(smtp.messages[0].textLinks.find((l) => l.includes('/password_reset/'))!);
    expect(await server.withDb((db) => checkPasswordResetToken(db, token, server.clock))).toEqual({ status: 'valid', nickname: 'olga' });
  });
  test('a failure after the answer is a log line naming the route (no unhandled rejection); the answer is the same', async () => {
    await listen();
    await addUser(server, { nickname: 'olga' });
    const unknown = await postJson('/api/auth/requestPasswordReset', { email: 'nobody@example.com' });
    await server.withDb((db) => sql`alter table tokens rename to tokens_gone`.execute(db));
    try {
      const known = await postJson('/api/auth/requestPasswordReset', { email: 'olga@example.com' });
      expect([known.status, known.text]).toEqual([unknown.status, unknown.text]);
      await server.settled();
    } finally {
      await server.withDb((db) => sql`alter table tokens_gone rename to tokens`.execute(db));
    }
    expect(server.log.filter((line) => line.startsWith('internal error'))).toEqual([
      expect.stringMatching(/^internal error after answering POST \/api\/auth\/requestPasswordReset: .*tokens/),
    ]);
    expect(server.mailer.sent).toEqual([]);
  });
});

describe('an invite not bound to an email (issue 13, also)', () => {
  test('gives an unconfirmed account and mails the confirmation link over SMTP; the link confirms it', async () => {
    await listen({ SMTP_URL: smtp.url, MAIL_FROM: 'Example <no-reply@example.com>' });
    const token = await invite();
    const res = await register({ username: 'nora', email: 'nora@example.com', inviteToken: token });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ emailVerificationRequired: true, verificationEmailSent: true, user: { emailVerified: false } });
    expect(await users()).toEqual([{ nickname: 'nora', email: 'nora@example.com', confirmed: false }]);
    const [mail] = await smtp.waitFor(1);
    expect(mail.envelopeTo).toEqual(['nora@example.com']);
    const link = mail.textLinks.find((l) => l.includes('/verify/'))!;
    expect((await send('POST', `/verify/${tokenOf(link)}`)).status).toBe(200);
    expect((await users())[0].confirmed).toBe(true);
  });

  test('an invite bound to the address still gives a confirmed account (the invite was mailed there)', async () => {
    await listen();
    const token = await invite({ email: 'nora@example.com' });
    expect((await register({ username: 'nora', email: 'nora@example.com', inviteToken: token })).status).toBe(201);
    expect((await users())[0].confirmed).toBe(true);
  });
});

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

async function uploadAvatar(token: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([PNG], { type: 'image/png' }), 'a.png');
  const res = await fetch(`${base}/api/files/images/avatar`, { method: 'POST', headers: bearer(token), body: form });
  expect(res.status).toBe(200);
  return ((await res.json()) as { url: string }).url;
}

describe('avatars (issue 13, also)', () => {
  beforeEach(() => listen());

  test('not found by counting ids; not served while the account is deactivated, nor once deleted', async () => {
    const id = await addUser(server, { nickname: 'ava' });
    const url = await uploadAvatar(await loginAs(server, 'ava'));
    expect(url).toMatch(new RegExp(`^/avatars/${id}-[0-9a-f]{32}\\.png$`));
    for (const guess of [`/avatars/${id}.png`, `/avatars/${id}-${'0'.repeat(32)}.png`]) expect((await send('GET', guess)).status).toBe(404);
    expect((await send('GET', url)).status).toBe(200);
    expect((await server.ctl(['user', 'deactivate', 'ava'])).code).toBe(0);
    expect((await send('GET', url)).status).toBe(404);
    expect((await server.ctl(['user', 'activate', 'ava'])).code).toBe(0);
    expect((await send('GET', url)).status).toBe(200);
    expect((await server.ctl(['user', 'rm', 'ava', '-y'])).code).toBe(0);
    expect((await send('GET', url)).status).toBe(404);
  });
});

describe('JSON-only API and same-origin forms (issue 13, also)', () => {
  beforeEach(() => listen({ CTL_REGISTRATIONS_OPEN: 'yes' }));

  test('a form-encoded cross-site login with the right password is 415 with a JSON error, and opens no session', async () => {
    await addUser(server, { nickname: 'alice' });
    const res = await postForm('/api/auth/login', { login: 'alice', password: 'correct-horse' }, { origin: 'http://evil.example' });
    expect([res.status, res.type]).toEqual([415, 'application/json; charset=utf-8']);
    expect(res.body).toEqual({ error: 'Unsupported Media Type', message: 'Send the request body as application/json, not application/x-www-form-urlencoded' });
    const sessions = await server.withDb((db) => db.selectFrom('tokens').select('id').where('kind', '=', 'access').execute());
    expect(sessions).toEqual([]);
  });

  test('a percent-encoded path to the API (/%61pi/...) is routed to it, and is held to JSON like /api/ itself', async () => {
    await addUser(server, { nickname: 'alice' });
    for (const url of ['/%61pi/auth/login', '/%61%70%69/auth/login', '/api/auth/%6cogin']) {
      const res = await postForm(url, { login: 'alice', password: 'correct-horse' });
      expect([url, res.status, res.body.error]).toEqual([url, 415, 'Unsupported Media Type']);
    }
    const fields = { username: 'mallory', email: 'mallory@example.com', password: 'correct-horse' };
    expect((await postForm('/%61pi/auth/register', fields)).status).toBe(415);
    expect(await server.withDb((db) => db.selectFrom('tokens').select('id').where('kind', '=', 'access').execute())).toEqual([]);
    expect(await users()).toEqual([{ nickname: 'alice', email: 'alice@example.com', confirmed: true }]);
    // The same route with JSON, under the encoded path, still works.
    expect((await postJson('/%61pi/auth/login', { login: 'alice', password: 'correct-horse' })).status).toBe(200);
  });

  test('form-encoded, multipart and text/plain registrations are 415 and create nothing; JSON still works', async () => {
    const fields = { username: 'mallory', email: 'mallory@example.com', password: 'correct-horse' };
    expect((await postForm('/api/auth/register', fields)).status).toBe(415);
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    expect((await send('POST', '/api/auth/register', form)).status).toBe(415);
    expect((await send('POST', '/api/auth/register', JSON.stringify(fields), { 'content-type': 'text/plain' })).status).toBe(415);
    expect(await users()).toEqual([]);
    expect((await postJson('/api/auth/register', fields)).status).toBe(201);
  });

  test('the pages’ forms refuse a post from another origin with 403 and change nothing; their own origin passes', async () => {
    await addUser(server, { nickname: 'erin', confirmed: false });
    const reset = new URL((await server.withDb((_db, ctx) => createPasswordReset(ctx, 'erin', server.config))).url).pathname;
    const confirm = new URL((await server.withDb((_db, ctx) => createConfirmation(ctx, 'erin', server.config))).confirmation!.url).pathname;
    const regToken = await invite();
    const password = { password: 'taken-over!', confirm_password: 'taken-over!' };
    const crossSite: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: 'http://sub.ctl.test' },
      { 'sec-fetch-site': 'cross-site', origin: 'http://ctl.test' },
    ];
    for (const headers of crossSite) {
      const answers = [
        await postForm(reset, password, headers),
        await postForm(confirm, {}, headers),
        await postForm(`/registration/${regToken}`, { username: 'mallory', email: 'm@example.com', ...password }, headers),
      ];
      expect(answers.map((a) => [a.status, a.type.split(';')[0]])).toEqual(Array(3).fill([403, 'text/html']));
    }
    expect(await users()).toEqual([{ nickname: 'erin', email: 'erin@example.com', confirmed: false }]);
    expect(await loginAs(server, 'erin')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // What a browser sends for the page's own form under Referrer-Policy: no-referrer.
    expect((await postForm(confirm, {}, { origin: 'null', 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await postForm(reset, password, { origin: base })).status).toBe(200);
  });
});
