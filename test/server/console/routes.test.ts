import { totpCode } from '../../../lib/auth/mfa';
import { hashToken } from '../../../lib/tokens/secrets';
import { buildServer } from '../../../lib/server/app';
import { addUser, bearer, loginAs, useTestServer, type TestServer } from '../helpers';
import { ConsoleClient, setCookieLine } from './helpers';

let server: TestServer;
const control = useTestServer((s) => (server = s), 'once');
let day = 0;
beforeEach(() => {
  // A day later each test: the in-memory failed-login counts of the previous test are out of their window.
  server.clock = new Date(Date.parse('2026-06-01T12:00:00Z') + day++ * 86400e3);
});

const verbs = () => server.withDb(async (db) => db.selectFrom('audit_log').select(['actor', 'verb', 'target_nickname']).orderBy('id').execute());
const active = (nickname: string) =>
  server.withDb(async (db) => (await db.selectFrom('users').select('active').where('nickname', '=', nickname).executeTakeFirstOrThrow()).active);
const show = async (nickname: string) => JSON.parse((await server.ctl(['user', 'show', nickname, '--json'])).stdout);
const liveAccessTokens = () =>
  server.withDb(async (db) => db.selectFrom('tokens').select(['id', 'user_id']).where('kind', '=', 'access').where('revoked_at', 'is', null).execute());

async function signedInAdmin(nickname = 'root'): Promise<ConsoleClient> {
  await addUser(server, { nickname, admin: true });
  const client = new ConsoleClient(server);
  const res = await client.signIn(nickname);
  expect([res.statusCode, res.headers.location]).toEqual([303, '/admin/users']);
  return client;
}

describe('sign-in', () => {
  test('while single sign-on is on, the console takes no local password, as the API (issue 16)', async () => {
    await addUser(server, { nickname: 'root', admin: true });
    const oidc = {
      issuer: 'http://127.0.0.1:9',
      clientId: 'ctl',
      clientSecret: 'secret',
      scopes: 'openid email profile',
      usernameClaim: 'preferred_username',
      nameClaim: 'name',
      adminClaim: null,
      adminValue: null,
      insecureLoopback: true,
    };
    const ssoOn = buildServer({ database: server.database, config: { ...server.config, sso: { ...server.config.sso, oidc } }, now: () => server.clock });
    try {
      const client = new ConsoleClient({ ...server, app: ssoOn });
      const res = await client.signIn('root');
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('Passwords are off: sign in through OpenID Connect');
      expect(client.cookies.ctl_console).toBeUndefined();
      expect(await liveAccessTokens()).toEqual([]);
    } finally {
      await ssoOn.close();
    }
  });

  test('an admin gets an httpOnly SameSite=Strict session cookie whose token is stored only hashed', async () => {
    const client = await signedInAdmin();
    const line = setCookieLine(await new ConsoleClient(server).signIn('root'), 'ctl_console');
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; SameSite=Strict/);
    expect(line).toMatch(/; Path=\/admin/);
    const token = client.cookies.ctl_console;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await server.withDb((db) => db.selectFrom('tokens').select('token_hash').execute());
    expect(rows.map((r) => r.token_hash)).toContain(hashToken(token));
    expect(JSON.stringify(rows)).not.toContain(token);
    const page = await client.get('/admin/users');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
  });

  test('a user who is not an admin, a moderator too, is refused and the session it opened is ended at once', async () => {
    await addUser(server, { nickname: 'mod', moderator: true });
    await addUser(server, { nickname: 'plain' });
    for (const who of ['mod', 'plain']) {
      const client = new ConsoleClient(server);
      const res = await client.signIn(who);
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('The console is for administrators only.');
      expect(client.cookies.ctl_console).toBeUndefined();
    }
    expect(await liveAccessTokens()).toEqual([]);
  });

  test('the sign-in form without its CSRF token, or from another site, is refused before the password is checked', async () => {
    await addUser(server, { nickname: 'root', admin: true });
    const client = new ConsoleClient(server);
    await client.get('/admin/login');
    const missing = await client.post('/admin/login', { login: 'root', password: 'correct-horse', _csrf: null });
    expect(missing.statusCode).toBe(403);
    const foreign = await client.post('/admin/login', { login: 'root', password: 'correct-horse' }, { origin: 'http://evil.example' });
    expect(foreign.statusCode).toBe(403);
    expect(await liveAccessTokens()).toEqual([]);
  });

  test('wrong passwords count against the same limit as the API login: 429 with Retry-After', async () => {
    await control.reopen({ CTL_LOGIN_MAX_FAILURES: '2' });
    server.clock = new Date(Date.parse('2026-06-01T12:00:00Z') + day++ * 86400e3);
    await addUser(server, { nickname: 'root', admin: true });
    const client = new ConsoleClient(server);
    expect((await client.signIn('root', 'wrong-one')).statusCode).toBe(401);
    const api = await server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { login: 'root', password: 'wrong-two' } });
    expect(api.statusCode).toBe(401);
    const limited = await client.signIn('root');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await control.reopen();
  });

  test('an admin with two-factor authentication must give the code', async () => {
    await addUser(server, { nickname: 'root', admin: true });
    const token = await loginAs(server, 'root');
    const { secret } = (await server.app.inject({ method: 'POST', url: '/api/auth/2fa/enable', headers: bearer(token) })).json();
    const confirm = await server.app.inject({
      method: 'POST',
      url: '/api/auth/2fa/confirm',
      headers: bearer(token),
      payload: { token: totpCode(secret, server.clock) },
    });
    expect(confirm.statusCode).toBe(200);
    server.clock = new Date(server.clock.getTime() + 60e3);
    const client = new ConsoleClient(server);
    const without = await client.signIn('root');
    expect(without.statusCode).toBe(401);
    expect(without.body).toContain('A two-factor authentication code is required.');
    const withCode = await client.post('/admin/login', {
      login: 'root',
      password: 'correct-horse',
      totp: totpCode(secret, server.clock),
      _csrf: client.cookies.ctl_console_form,
    });
    expect([withCode.statusCode, withCode.headers.location]).toEqual([303, '/admin/users']);
  });
});

describe('the session', () => {
  test('no cookie: pages send to sign-in, posts are refused', async () => {
    const client = new ConsoleClient(server);
    const res = await client.get('/admin/users');
    expect([res.statusCode, res.headers.location]).toEqual([303, '/admin/login']);
    expect((await client.post('/admin/users/bulk', { action: 'deactivate', user_1: '1', _csrf: 'x' })).statusCode).toBe(401);
  });

  test('ctl user sign_out ends the console session on its next request', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob' });
    expect((await server.ctl(['user', 'sign_out', 'root'])).code).toBe(0);
    const res = await client.get('/admin/users');
    expect([res.statusCode, res.headers.location]).toEqual([303, '/admin/login?ended=1']);
    const post = await client.post('/admin/users/bulk/confirm', { action: 'deactivate', user_2: '1' });
    expect(post.statusCode).toBe(401);
    expect(await active('bob')).toBe(true);
  });

  test('a session idle for 30 minutes has expired', async () => {
    const client = await signedInAdmin();
    server.clock = new Date(server.clock.getTime() + 29 * 60e3);
    expect((await client.get('/admin/users')).statusCode).toBe(200);
    server.clock = new Date(server.clock.getTime() + 30 * 60e3);
    const res = await client.get('/admin/users');
    expect([res.statusCode, res.headers.location]).toEqual([303, '/admin/login?ended=1']);
  });

  test('a session ends 12 hours after sign-in however busy, and is forgotten at a later sign-in', async () => {
    const client = await signedInAdmin();
    // Every 29 minutes for 11 h 36 min: never idle long enough.
    for (let i = 0; i < 24; i++) {
      server.clock = new Date(server.clock.getTime() + 29 * 60e3);
      expect((await client.get('/admin/licence')).statusCode).toBe(200);
    }
    server.clock = new Date(server.clock.getTime() + 29 * 60e3);
    const res = await client.get('/admin/users');
    expect([res.statusCode, res.headers.location]).toEqual([303, '/admin/login?ended=1']);
    const rows = () => server.withDb((db) => db.selectFrom('console_sessions').select('token_id').execute());
    expect(await rows()).toHaveLength(1);
    await client.signIn('root');
    expect(await rows()).toHaveLength(1);
  });

  let listening: string | undefined;
  /** Signs in as a browser does, over HTTP on loopback; the console's cookie (its token) and the base URL. */
  async function browserSignIn(): Promise<{ base: string; token: string }> {
    await addUser(server, { nickname: 'root', admin: true });
    // Listening once for the file: the app is the same in every test.
    const base = (listening ??= await server.app.listen({ host: '127.0.0.1', port: 0 }));
    const cookiesOf = (res: Response) => Object.fromEntries(res.headers.getSetCookie().map((line) => line.split(';')[0].split('=')));
    const page = await fetch(`${base}/admin/login`);
    const formCookie = cookiesOf(page).ctl_console_form;
    const csrf = /name="_csrf" value="([A-Za-z0-9_-]+)"/.exec(await page.text())![1];
    const signIn = await fetch(`${base}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `ctl_console_form=${formCookie}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, login: 'root', password: 'correct-horse' }).toString(),
    });
    expect(signIn.status).toBe(303);
    return { base, token: cookiesOf(signIn).ctl_console };
  }

  test('the console’s token dies with its session: it lives 12 hours at most, and an idle session’s token is no API bearer after it', async () => {
    const { base, token } = await browserSignIn();
    const signedInAt = server.clock.getTime();
    const expiry = async () =>
      (await server.withDb((db) => db.selectFrom('tokens').select('expires_at').where('token_hash', '=', hashToken(token)).executeTakeFirstOrThrow()))
        .expires_at;
    // The token expires with the idle timeout, moved on by each console request, never past 12 hours.
    expect(await expiry()).toEqual(new Date(signedInAt + 30 * 60e3));
    for (let i = 0; i < 25; i++) {
      server.clock = new Date(server.clock.getTime() + 29 * 60e3);
      expect((await fetch(`${base}/admin/licence`, { headers: { cookie: `ctl_console=${token}` } })).status).toBe(200);
    }
    expect(await expiry()).toEqual(new Date(signedInAt + 12 * 3600e3));
    server.clock = new Date(signedInAt + 12 * 3600e3);
    expect((await fetch(`${base}/api/user`, { headers: bearer(token) })).status).toBe(401);
  });

  test('an idle console session’s token is no API bearer, though the cookie never comes back to the console', async () => {
    const { base, token } = await browserSignIn();
    const api = async () => (await fetch(`${base}/api/user`, { headers: bearer(token) })).status;
    expect(await api()).toBe(200);
    // The API's use does not keep the console session alive ...
    server.clock = new Date(server.clock.getTime() + 29 * 60e3);
    expect(await api()).toBe(200);
    server.clock = new Date(server.clock.getTime() + 60e3);
    expect(await api()).toBe(401);
  });

  test('a console request keeps the token an API bearer for another idle timeout', async () => {
    const { base, token } = await browserSignIn();
    const api = async () => (await fetch(`${base}/api/user`, { headers: bearer(token) })).status;
    server.clock = new Date(server.clock.getTime() + 29 * 60e3);
    expect((await fetch(`${base}/admin/users`, { headers: { cookie: `ctl_console=${token}` } })).status).toBe(200);
    server.clock = new Date(server.clock.getTime() + 29 * 60e3);
    expect(await api()).toBe(200);
    server.clock = new Date(server.clock.getTime() + 60e3);
    expect(await api()).toBe(401);
  });

  test('a session presented after its idle timeout is ended, and its token with it', async () => {
    const { base, token } = await browserSignIn();
    const api = async () => (await fetch(`${base}/api/user`, { headers: bearer(token) })).status;
    expect(await api()).toBe(200);
    server.clock = new Date(server.clock.getTime() + 31 * 60e3);
    const idle = await fetch(`${base}/admin/users`, { redirect: 'manual', headers: { cookie: `ctl_console=${token}` } });
    expect([idle.status, idle.headers.get('location')]).toEqual([303, '/admin/login?ended=1']);
    expect(await api()).toBe(401);
  });

  test("an API bearer token put in the console's cookie does not open the console", async () => {
    await addUser(server, { nickname: 'root', admin: true });
    const token = await loginAs(server, 'root');
    const res = await server.app.inject({ method: 'GET', url: '/admin/users', headers: { cookie: `ctl_console=${token}` } });
    expect([res.statusCode, res.headers.location]).toEqual([303, '/admin/login?ended=1']);
  });

  test('an admin demoted meanwhile is refused on the next request', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'other', admin: true });
    expect((await server.ctl(['user', 'set', 'root', '--no-admin'])).code).toBe(0);
    const res = await client.get('/admin/users');
    expect(res.statusCode).toBe(403);
  });

  test('sign-out ends the session', async () => {
    const client = await signedInAdmin();
    const out = await client.post('/admin/logout', {});
    expect([out.statusCode, out.headers.location]).toEqual([303, '/admin/login?signed_out=1']);
    expect(await liveAccessTokens()).toEqual([]);
  });
});

describe('CSRF', () => {
  test('a form posted without the token, with a wrong one, or from another site changes nothing', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob' });
    await client.get('/admin/users');
    const attempts: { fields: Record<string, string | null>; headers: Record<string, string> }[] = [
      { fields: { _csrf: null }, headers: {} },
      { fields: { _csrf: 'A'.repeat(43) }, headers: {} },
      { fields: {}, headers: { origin: 'http://evil.example' } },
    ];
    for (const attempt of attempts) {
      const res = await client.post('/admin/users/bulk/confirm', { action: 'deactivate', user_2: '1', ...attempt.fields }, attempt.headers);
      expect(res.statusCode).toBe(403);
    }
    expect(await active('bob')).toBe(true);
    // The same form with its token works.
    const ok = await client.post('/admin/users/bulk/confirm', { action: 'deactivate', user_2: '1' });
    expect(ok.statusCode).toBe(200);
    expect(await active('bob')).toBe(false);
  });

  test("another session's token is not this session's", async () => {
    const first = await signedInAdmin();
    await addUser(server, { nickname: 'bob' });
    const second = new ConsoleClient(server);
    await second.signIn('root');
    await second.get('/admin/users');
    await first.get('/admin/users');
    expect(second.csrf).not.toBe(first.csrf);
    const res = await first.post('/admin/users/bulk/confirm', { action: 'deactivate', user_2: '1', _csrf: second.csrf });
    expect(res.statusCode).toBe(403);
  });
});

describe('manage users', () => {
  test('search is a case-insensitive substring of nickname, email or name, and escapes what it shows', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'alice', name: 'Alice <script>alert(1)</script>' });
    await addUser(server, { nickname: 'bob', email: 'bob@Wonderland.example' });
    await addUser(server, { nickname: 'carol' });
    const byName = await client.get('/admin/users?q=ALIC');
    expect(byName.body).toContain('>alice</a>');
    expect(byName.body).not.toContain('<script>alert');
    expect(byName.body).toContain('Alice &lt;script&gt;alert(1)&lt;/script&gt;');
    const byEmail = await client.get('/admin/users?q=wonderLAND');
    expect(byEmail.body).toContain('>bob</a>');
    expect(byEmail.body).not.toContain('>carol</a>');
    const admins = await client.get('/admin/users?role=admin');
    expect(admins.body).toContain('>root</a>');
    expect(admins.body).not.toContain('>bob</a>');
  });

  test('keyset paging: 50 a page, then the rest after the last id', async () => {
    const client = await signedInAdmin();
    await server.withDb(async (db) => {
      const rows = Array.from({ length: 60 }, (_, i) => ({ nickname: `u${String(i).padStart(2, '0')}`, email: `u${i}@example.com`, name: `U ${i}` }));
      await db.insertInto('users').values(rows).execute();
    });
    const first = await client.get('/admin/users?q=u');
    const next = /id="next-page" href="([^"]+)"/.exec(first.body)![1].replace(/&amp;/g, '&');
    expect(next).toBe('?q=u&after=51');
    expect((first.body.match(/name="user_\d+"/g) ?? []).length).toBe(50);
    const second = await client.get(`/admin/users${next}`);
    expect((second.body.match(/name="user_\d+"/g) ?? []).length).toBe(10);
    expect(second.body).not.toContain('id="next-page"');
  });

  test('bulk delete asks first, naming how many and who, then writes the audit rows with the web actor', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob' });
    await addUser(server, { nickname: 'carol' });
    await client.get('/admin/users');
    const ask = await client.post('/admin/users/bulk', { action: 'delete', user_2: '1', user_3: '1' });
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('Delete 2 users?');
    expect(ask.body).toContain('<p id="confirm-summary">Delete these 2 users:</p>');
    expect(ask.body).toContain('<li>bob (bob@example.com)</li>');
    // One: "this user", not "these 1 user".
    const one = await client.post('/admin/users/bulk', { action: 'delete', user_2: '1' });
    expect([one.statusCode, /<p id="confirm-summary">[^<]*<\/p>/.exec(one.body)?.[0]]).toEqual([200, '<p id="confirm-summary">Delete this user:</p>']);
    expect(ask.body).toContain('<li>carol (carol@example.com)</li>');
    expect(await active('bob')).toBe(true);
    const done = await client.post('/admin/users/bulk/confirm', { action: 'delete', user_2: '1', user_3: '1' });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('Delete: 2 of 2 done');
    const rows = (await verbs()).filter((r) => r.verb === 'rm');
    expect(rows).toEqual([
      { actor: 'web:root', verb: 'rm', target_nickname: 'bob' },
      { actor: 'web:root', verb: 'rm', target_nickname: 'carol' },
    ]);
  });

  test('the last admin cannot deactivate or delete itself: refused with the CLI’s reason', async () => {
    const client = await signedInAdmin();
    await client.get('/admin/users');
    for (const action of ['deactivate', 'delete']) {
      const res = await client.post('/admin/users/bulk/confirm', { action, user_1: '1' });
      expect(res.statusCode).toBe(409);
      expect(res.body).toContain('it is the last active admin');
    }
    const demote = await client.post('/admin/users/1/flags', { admin: null, moderator: null });
    expect(demote.statusCode).toBe(409);
    expect(demote.body).toContain('refusing to remove admin status from root: it is the last active admin');
    expect(await active('root')).toBe(true);
    expect((await verbs()).map((r) => r.verb)).toEqual(['new']);
  });
});

describe("a user's page", () => {
  test('shows every field and the audit history; edits profile and flags through set, tag and untag', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob', bio: 'hello' });
    const page = await client.get('/admin/users/2');
    expect(page.statusCode).toBe(200);
    for (const label of [
      'Nickname',
      'Email',
      'Name',
      'Bio',
      'Site admin',
      'Moderator',
      'Locked',
      'Confirmed',
      'Active',
      'Deleted',
      'Tags',
      'Last login',
      'Active sessions',
    ])
      expect(page.body).toContain(`<dt>${label}</dt>`);
    expect(page.body).toMatch(/<td>tester<\/td>\s*<td>new<\/td>/);
    const saved = await client.post('/admin/users/2/profile', { email: 'bob2@example.com', name: 'Bobby', bio: 'hello', tags: 'Team, ops' });
    expect(saved.statusCode).toBe(200);
    expect(saved.body).toContain('Email changed; name changed; tagged ops, team');
    const flags = await client.post('/admin/users/2/flags', { admin: '1', confirmed: '1' });
    expect(flags.body).toContain('Saved (admin: yes).');
    const show = JSON.parse((await server.ctl(['user', 'show', 'bob', '--json'])).stdout);
    expect(show).toMatchObject({ email: 'bob2@example.com', name: 'Bobby', tags: ['ops', 'team'], admin: true });
    expect((await verbs()).filter((r) => r.target_nickname === 'bob').map((r) => `${r.actor} ${r.verb}`)).toEqual([
      'tester new',
      'web:root set',
      'web:root tag',
      'web:root set',
    ]);
  });

  test('a message that begins with a nickname shows it as written: alice is not made Alice, another user', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'alice' });
    await server.withDb((db) => db.updateTable('users').set({ provider: 'oidc' }).where('nickname', '=', 'alice').execute());
    await client.get('/admin/users/2');
    const res = await client.post('/admin/users/2/reset_password', {});
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('alice signs in through oidc: change the password there.');
    expect(res.body).not.toContain('Alice signs in');
  });

  test('a taken email is refused with 409 and nothing changes', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob' });
    await client.get('/admin/users/2');
    const res = await client.post('/admin/users/2/profile', { email: 'root@example.com', name: 'bob', bio: '', tags: '' });
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('email root@example.com is already taken.');
  });

  test('the reset link is shown once; sign out everywhere, deactivate and activate call their verbs', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob' });
    await loginAs(server, 'bob');
    await client.get('/admin/users/2');
    const reset = await client.post('/admin/users/2/reset_password', {});
    expect(reset.body).toMatch(/<span id="reset-url">http:\/\/ctl\.test\/password_reset\/[A-Za-z0-9_-]{43}<\/span>/);
    expect((await client.get('/admin/users/2')).body).not.toContain('/password_reset/');
    const out = await client.post('/admin/users/2/sign_out', {});
    expect(out.body).toContain('bob signed out from all apps: 2 tokens revoked (access 1, refresh 1, authorization 0).');
    expect((await client.post('/admin/users/2/deactivate', {})).body).toContain('User bob deactivated.');
    expect(await active('bob')).toBe(false);
    expect((await client.post('/admin/users/2/activate', {})).body).toContain('User bob activated.');
    expect((await verbs()).filter((r) => r.actor === 'web:root').map((r) => r.verb)).toEqual(['reset_password', 'sign_out', 'deactivate', 'activate']);
  });
});

describe("a user's page: mail, MFA and remote accounts", () => {
  test('send the confirmation mail mails a fresh link; reset MFA turns it off; both audited as web', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob', confirmed: false });
    const token = await loginAs(server, 'bob');
    const { secret } = (await server.app.inject({ method: 'POST', url: '/api/auth/2fa/enable', headers: bearer(token) })).json();
    await server.app.inject({ method: 'POST', url: '/api/auth/2fa/confirm', headers: bearer(token), payload: { token: totpCode(secret, server.clock) } });
    await client.get('/admin/users/2');
    const mailed = await client.post('/admin/users/2/send_confirmation', {});
    expect(mailed.body).toContain('Confirmation link mailed to bob@example.com.');
    expect(server.mailer.sent.at(-1)!.to.address).toBe('bob@example.com');
    expect(server.mailer.sent.at(-1)!.text).toMatch(/http:\/\/ctl\.test\/verify\/[A-Za-z0-9_-]{43}/);
    const reset = await client.post('/admin/users/2/reset_mfa', {});
    expect(reset.body).toContain('Two-factor authentication of bob was reset.');
    expect((await show('bob')).mfaEnabled).toBe(false);
    expect((await verbs()).filter((r) => r.actor === 'web:root').map((r) => r.verb)).toEqual(['send_confirmation', 'reset_mfa']);
  });

  test('a remote account is refused by delete with the CLI’s reason; its page offers no edits', async () => {
    const client = await signedInAdmin();
    await server.withDb((db) => db.insertInto('users').values({ nickname: 'far@remote.example', name: 'Far', local: false }).execute());
    const page = await client.get('/admin/users/2?origin=remote');
    expect(page.body).toContain('A remote account');
    expect(page.body).not.toContain('id="save-profile"');
    const res = await client.post('/admin/users/bulk/confirm', { action: 'delete', user_2: '1' });
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('No local user far@remote.example.');
    const remote = await client.get('/admin/users?origin=remote');
    expect(remote.body).toContain('>far@remote.example</a>');
  });

  test('actions on a remote account never reach the local account whose email is its nickname', async () => {
    // A remote handle can be a local account's address; the console names accounts by id, and a
    // local-only verb handed the remote's nickname used to find the local account by email.
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob', email: 'far@remote.example' });
    await server.withDb((db) => db.insertInto('users').values({ nickname: 'far@remote.example', name: 'Far', local: false }).execute());
    await client.get('/admin/users/3');
    for (const action of ['reset_password', 'sign_out', 'flags', 'profile']) {
      const res = await client.post(`/admin/users/3/${action}`, { email: 'x@example.com', name: 'X', admin: '1' });
      expect([action, res.statusCode]).toEqual([action, 404]);
      expect(res.body).toContain('No local user far@remote.example.');
    }
    const deleted = await client.post('/admin/users/bulk/confirm', { action: 'delete', user_3: '1' });
    expect(deleted.statusCode).toBe(409);
    expect(deleted.body).toContain('No local user far@remote.example.');
    const bob = await show('bob');
    expect([bob.deleted, bob.admin, bob.email, bob.name]).toEqual([false, false, 'far@remote.example', 'bob']);
    expect((await verbs()).filter((r) => r.actor === 'web:root')).toEqual([]);
  });

  test("what a user typed is escaped on the user's page", async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'eve', name: '"><img src=x onerror=alert(1)>', bio: '</textarea><script>alert(2)</script>' });
    const page = await client.get('/admin/users/2');
    expect(page.body).not.toMatch(/<img src=x|<script>alert/);
    expect(page.body).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(page.body).toContain('&lt;/textarea&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
  });
});

describe('deleted users', () => {
  test('days left, Recover inside the window, and a clear refusal past it', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob' });
    await addUser(server, { nickname: 'carol' });
    await client.get('/admin/users');
    await client.post('/admin/users/bulk/confirm', { action: 'delete', user_2: '1' });
    server.clock = new Date(server.clock.getTime() + 10 * 86400e3);
    await client.signIn('root');
    await client.post('/admin/users/bulk/confirm', { action: 'delete', user_3: '1' });
    const list = await client.get('/admin/deleted');
    expect(list.body).toMatch(/>bob<\/a>[\s\S]*?<td>80 days<\/td>/);
    expect(list.body).toMatch(/>carol<\/a>[\s\S]*?<td>90 days<\/td>/);
    const back = await client.post('/admin/users/3/restore', {});
    expect(back.body).toContain('User carol recovered.');
    server.clock = new Date(server.clock.getTime() + 81 * 86400e3);
    await client.signIn('root');
    await client.get('/admin/deleted');
    expect((await client.get('/admin/deleted')).body).toContain('past the window');
    const late = await client.post('/admin/users/2/restore', {});
    expect(late.statusCode).toBe(409);
    expect(late.body).toContain('past the retention window');
  });
});

describe('launchpad', () => {
  test('open while no admin exists; two first admins at once: exactly one is created; then closed', async () => {
    const a = new ConsoleClient(server);
    const b = new ConsoleClient(server);
    expect((await a.get('/launchpad')).statusCode).toBe(200);
    await b.get('/launchpad');
    const [ra, rb] = await Promise.all([
      a.post('/launchpad', { nickname: 'first', email: 'first@example.com', password: 'first-password' }),
      b.post('/launchpad', { nickname: 'second', email: 'second@example.com', password: 'second-password' }),
    ]);
    expect([ra.statusCode, rb.statusCode].sort()).toEqual([201, 403]);
    const admins = await server.withDb((db) => db.selectFrom('users').select('nickname').where('admin', '=', true).execute());
    expect(admins).toHaveLength(1);
    expect((await new ConsoleClient(server).get('/launchpad')).statusCode).toBe(403);
    expect((await verbs()).map((r) => `${r.actor} ${r.verb}`)).toEqual(['web:launchpad new']);
  });

  test('once closed, a post is refused as closed whatever it holds, never shown the form again', async () => {
    // The form was opened while the launchpad was open; an administrator was made meanwhile.
    const c = new ConsoleClient(server);
    await c.get('/launchpad');
    await addUser(server, { nickname: 'root', admin: true });
    for (const fields of [
      { nickname: 'bad nick', email: 'first@example.com', password: 'first-password' },
      { nickname: 'first', email: 'not-an-email', password: 'first-password' },
      { nickname: 'first', email: 'first@example.com', password: 'short' },
    ]) {
      const res = await c.post('/launchpad', fields);
      expect([res.statusCode, res.body]).toEqual([403, expect.stringContaining('An administrator already exists: the launchpad is closed.')]);
      expect(res.body).not.toContain('No administrator exists yet');
    }
    expect(await verbs()).toEqual([expect.objectContaining({ verb: 'new', target_nickname: 'root' })]);
  });

  test('refuses a post without its CSRF token, and a weak password', async () => {
    const c = new ConsoleClient(server);
    await c.get('/launchpad');
    expect((await c.post('/launchpad', { nickname: 'first', email: 'first@example.com', password: 'first-password', _csrf: null })).statusCode).toBe(403);
    const weak = await c.post('/launchpad', { nickname: 'first', email: 'first@example.com', password: 'short' });
    expect(weak.statusCode).toBe(400);
    expect(await verbs()).toEqual([]);
  });
});

describe('register and licence', () => {
  test('comma-separated addresses: created, already exists, invalid, each said; set-password links mailed', async () => {
    const client = await signedInAdmin();
    await client.get('/admin/register');
    server.mailer.sent.length = 0;
    const res = await client.post('/admin/register', { emails: 'dana@example.com, root@example.com,not-an-address\nerin@example.com' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('2 of 4 accounts created.');
    const statuses = [...res.body.matchAll(/<tr data-status="(\w+)">\s*<td>([^<]+)<\/td>/g)].map((m) => `${m[2]} ${m[1]}`);
    expect(statuses).toEqual(['dana@example.com created', 'root@example.com exists', 'not-an-address invalid', 'erin@example.com created']);
    expect(res.body).not.toContain('/password_reset/');
    expect(server.mailer.sent.map((m) => m.to.address)).toEqual(['dana@example.com', 'erin@example.com']);
    expect(server.mailer.sent[0].text).toMatch(/http:\/\/ctl\.test\/password_reset\/[A-Za-z0-9_-]{43}/);
    expect((await verbs()).filter((r) => r.actor === 'web:root').map((r) => `${r.verb} ${r.target_nickname}`)).toEqual(['new dana', 'new erin']);
  });

  test('without mail the set-password links are shown, once', async () => {
    await addUser(server, { nickname: 'root', admin: true });
    const noMail = buildServer({ database: server.database, config: server.config, now: () => server.clock });
    try {
      const client = new ConsoleClient({ ...server, app: noMail });
      await client.signIn('root');
      const res = await client.post('/admin/register', { emails: 'dana@example.com' });
      expect(res.body).toContain('Mail is not configured');
      expect(res.body.match(/http:\/\/ctl\.test\/password_reset\/[A-Za-z0-9_-]{43}/g)).toHaveLength(1);
    } finally {
      await noMail.close();
    }
  });

  test('the licence page shows count’s numbers', async () => {
    const client = await signedInAdmin();
    await addUser(server, { nickname: 'bob' });
    await addUser(server, { nickname: 'carol' });
    expect((await server.ctl(['user', 'deactivate', 'carol'])).code).toBe(0);
    const res = await client.get('/admin/licence');
    expect(res.body).toMatch(/id="total">3</);
    expect(res.body).toMatch(/id="active">1</);
    expect(res.body).toMatch(/id="deactivated">1</);
    expect(res.body).toMatch(/id="deleted">0</);
    expect((await client.get('/admin/licence?since=yesterday-ish')).statusCode).toBe(400);
    // A duration reaching back past any date PostgreSQL (or JavaScript) holds: a 400 naming it, not a 500.
    for (const since of ['99999999d', '999999999d']) {
      const far = await client.get(`/admin/licence?since=${since}`);
      expect([far.statusCode, far.body]).toEqual([400, expect.stringContaining(`invalid date &quot;${since}&quot; for since`)]);
    }
  });
});
