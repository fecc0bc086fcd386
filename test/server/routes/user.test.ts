import { issueConfirmation } from '../../../lib/tokens/confirmation';
import { addUser, bearer, loginAs, useTestServer, type TestServer } from '../helpers';

let server: TestServer;
const control = useTestServer((s) => (server = s));

async function signedIn(nickname = 'alice', extra = {}): Promise<{ id: number; token: string }> {
  const id = await addUser(server, { nickname, ...extra });
  return { id, token: await loginAs(server, nickname) };
}

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token?: string, payload?: unknown) =>
  server.app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload === undefined ? {} : { payload: payload as object }) });

describe('GET /api/user and POST /api/user/plugins', () => {
  beforeEach(() => control.restart());

  test("the user as LibreChat's TUser", async () => {
    const { id, token } = await signedIn('alice', { name: 'Alice A.', admin: true });
    const res = await call('GET', '/api/user', token);
    expect(res.statusCode).toBe(200);
    const user = res.json();
    expect(user).toEqual({
      id: String(id),
      email: 'alice@example.com',
      name: 'Alice A.',
      username: 'alice',
      role: 'ADMIN',
      moderator: false,
      avatar: '',
      provider: 'local',
      plugins: [],
      emailVerified: true,
      termsAccepted: false,
      twoFactorEnabled: false,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      updatedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      lastLoginAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(res.body).not.toMatch(/password|hash|secret/i);
  });

  test('plugins are replaced, deduplicated, returned in the user, and audited', async () => {
    const { token } = await signedIn();
    const res = await call('POST', '/api/user/plugins', token, { plugins: ['web-search', 'calculator', 'web-search'] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ username: 'alice', plugins: ['web-search', 'calculator'] });
    expect((await call('GET', '/api/user', token)).json().plugins).toEqual(['web-search', 'calculator']);
    expect((await call('POST', '/api/user/plugins', token, { plugins: [] })).json().plugins).toEqual([]);
    await server.withDb(async (db) => {
      const audit = await db.selectFrom('audit_log').select(['verb', 'actor', 'details']).where('verb', '=', 'plugins').orderBy('id').execute();
      expect(audit).toEqual([
        { verb: 'plugins', actor: 'app:alice', details: { plugins: ['web-search', 'calculator'] } },
        { verb: 'plugins', actor: 'app:alice', details: { plugins: [] } },
      ]);
    });
  });

  test.each([
    [{}, 'Send {plugins: [...]} or {pluginKey, action: "install" | "uninstall"}'],
    [{ plugins: 'web-search' }, 'body/plugins must be array'],
    [{ plugins: [1] }, 'body/plugins/0 must be string'],
    [{ plugins: ['has space'] }, 'invalid plugin identifier "has space"'],
  ])('a bad body %j is 400: %s', async (payload, message) => {
    const { token } = await signedIn();
    const res = await call('POST', '/api/user/plugins', token, payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'Bad Request', message });
  });
});

describe('DELETE /api/user/delete', () => {
  test('soft-deletes like ctl user rm: every token revoked, restorable, audited as the user', async () => {
    await control.restart();
    await addUser(server, { nickname: 'root', admin: true });
    const { id, token } = await signedIn('alice');
    const other = await loginAs(server, 'alice');
    const res = await call('DELETE', '/api/user/delete', token);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: 'User account deleted successfully' });
    expect((await call('GET', '/api/user', other)).statusCode).toBe(401);
    const login = await server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { login: 'alice', password: 'correct-horse' } });
    expect([login.statusCode, login.json().message]).toEqual([403, 'This account has been deleted']);
    await server.withDb(async (db) => {
      const row = await db.selectFrom('users').select(['deleted_at', 'active']).where('id', '=', id).executeTakeFirstOrThrow();
      expect(row.deleted_at).not.toBeNull();
      expect(row.active).toBe(false);
      const live = await db.selectFrom('tokens').select('id').where('user_id', '=', id).where('revoked_at', 'is', null).execute();
      expect(live).toEqual([]);
      const audit = await db.selectFrom('audit_log').select(['verb', 'actor', 'details']).where('verb', '=', 'rm').executeTakeFirstOrThrow();
      expect(audit).toMatchObject({ actor: 'app:alice', details: { soft: true, revokedTokens: 4 } });
    });
  });

  test('the last active admin cannot delete itself: 409', async () => {
    await control.restart();
    const { token } = await signedIn('root', { admin: true });
    const res = await call('DELETE', '/api/user/delete', token);
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toMatch(/^refusing to delete root: it is the last active admin/);
  });

  test('CTL_ALLOW_ACCOUNT_DELETION=false: 403 "Account deletion is disabled", nothing changes', async () => {
    await control.restart({ CTL_ALLOW_ACCOUNT_DELETION: 'false' });
    const { id, token } = await signedIn();
    const res = await call('DELETE', '/api/user/delete', token);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'Forbidden', message: 'Account deletion is disabled' });
    await server.withDb(async (db) =>
      expect((await db.selectFrom('users').select('deleted_at').where('id', '=', id).executeTakeFirstOrThrow()).deleted_at).toBeNull(),
    );
  });
});

describe('email verification', () => {
  beforeEach(() => control.restart());

  async function confirmationToken(userId: number, ttlMs = 3600e3): Promise<string> {
    return (await server.withDb((db) => issueConfirmation(db, userId, server.clock, ttlMs))).token;
  }

  test('POST /api/user/verify confirms once; the token then fails with the reference 400', async () => {
    const id = await addUser(server, { nickname: 'carol', confirmed: false });
    const token = await confirmationToken(id);
    const res = await call('POST', '/api/user/verify', undefined, { userId: String(id), token });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: 'Email verified successfully' });
    await server.withDb(async (db) =>
      expect((await db.selectFrom('users').select('confirmed').where('id', '=', id).executeTakeFirstOrThrow()).confirmed).toBe(true),
    );
    const again = await call('POST', '/api/user/verify', undefined, { userId: String(id), token });
    expect(again.statusCode).toBe(400);
    expect(again.json()).toEqual({ error: 'Invalid or expired verification token' });
  });

  test("another user's id, an expired token or an unknown one: 400 and nothing confirmed", async () => {
    const id = await addUser(server, { nickname: 'carol', confirmed: false });
    const other = await addUser(server, { nickname: 'dave', confirmed: false });
    const token = await confirmationToken(id);
    const expired = await confirmationToken(id, 1000);
    server.clock = new Date(server.clock.getTime() + 2000);
    for (const body of [
      { userId: String(other), token },
      { userId: String(id), token: expired },
      { userId: String(id), token: 'E'.repeat(43) },
    ]) {
      const res = await call('POST', '/api/user/verify', undefined, body);
      expect([res.statusCode, res.json()]).toEqual([400, { error: 'Invalid or expired verification token' }]);
    }
    await server.withDb(async (db) => expect((await db.selectFrom('users').select('confirmed').execute()).map((u) => u.confirmed)).toEqual([false, false]));
  });

  test('POST /api/user/verify/resend mails a fresh link, then 429 within the interval', async () => {
    const id = await addUser(server, { nickname: 'carol', confirmed: false });
    const res = await call('POST', '/api/user/verify/resend', undefined, { email: 'Carol@Example.com' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: 'If an unconfirmed account uses this address, a verification email is on its way' });
    // Mailed after the answer (lib/server/after-answer.ts).
    await server.mailer.waitFor(1);
    expect(server.mailer.sent.map((m) => m.to.address)).toEqual(['carol@example.com']);
    const token = /\/verify\/([A-Za-z0-9_-]{43})/.exec(server.mailer.sent[0].text)![1];
    const again = await call('POST', '/api/user/verify/resend', undefined, { email: 'carol@example.com' });
    expect(again.statusCode).toBe(429);
    expect(again.json()).toEqual({ error: 'Too many requests', message: 'Please wait before requesting another verification email' });
    expect(Number(again.headers['retry-after'])).toBe(60);
    expect(server.mailer.sent).toHaveLength(1);
    expect((await call('POST', '/api/user/verify', undefined, { userId: String(id), token })).statusCode).toBe(200);
    server.clock = new Date(server.clock.getTime() + 61e3);
    // Confirmed now: the same answer, and no mail.
    expect((await call('POST', '/api/user/verify/resend', undefined, { email: 'carol@example.com' })).statusCode).toBe(200);
    await server.settled();
    expect(server.mailer.sent).toHaveLength(1);
  });

  test('resend for an unknown address answers like a known one and sends nothing', async () => {
    const res = await call('POST', '/api/user/verify/resend', undefined, { email: 'nobody@example.com' });
    expect([res.statusCode, res.json().message]).toEqual([200, 'If an unconfirmed account uses this address, a verification email is on its way']);
    await server.settled();
    expect(server.mailer.sent).toEqual([]);
  });
});

describe('terms, settings, balance', () => {
  test('terms: not accepted, then accepted for CTL_TERMS_VERSION, then not again once the version moves', async () => {
    await control.restart({ CTL_TERMS_VERSION: '2.1' });
    const { token } = await signedIn();
    expect((await call('GET', '/api/user/terms', token)).json()).toEqual({ termsAccepted: false, termsVersion: null, acceptedAt: null, termsAcceptedAt: null });
    const accept = await call('POST', '/api/user/terms/accept', token);
    expect(accept.statusCode).toBe(200);
    expect(accept.json()).toEqual({ message: 'Terms accepted', termsAccepted: true, termsAcceptedAt: server.clock.toISOString() });
    expect((await call('GET', '/api/user/terms', token)).json()).toEqual({
      termsAccepted: true,
      termsVersion: '2.1',
      acceptedAt: server.clock.toISOString(),
      termsAcceptedAt: server.clock.toISOString(),
    });
    expect((await call('GET', '/api/user', token)).json().termsAccepted).toBe(true);
    await control.reopen({ CTL_TERMS_VERSION: '3.0' });
    expect((await call('GET', '/api/user/terms', token)).json()).toMatchObject({ termsAccepted: false, termsVersion: '2.1' });
  });

  test('settings: {} at first, PUT replaces them, a non-object is 400', async () => {
    await control.restart();
    const { token } = await signedIn();
    expect((await call('GET', '/api/user/settings', token)).json()).toEqual({});
    const put = await call('PUT', '/api/user/settings', token, { theme: 'dark', language: 'fr', notifications: { email: false } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ theme: 'dark', language: 'fr', notifications: { email: false } });
    expect((await call('PUT', '/api/user/settings', token, { theme: 'light' })).json()).toEqual({ theme: 'light' });
    expect((await call('GET', '/api/user/settings', token)).json()).toEqual({ theme: 'light' });
    const bad = await server.app.inject({
      method: 'PUT',
      url: '/api/user/settings',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: '["dark"]',
    });
    expect([bad.statusCode, bad.json()]).toEqual([400, { error: 'Bad Request', message: 'body must be object' }]);
    const huge = await call('PUT', '/api/user/settings', token, { blob: 'x'.repeat(20000) });
    expect([huge.statusCode, huge.json().message]).toEqual([400, 'settings are too large: at most 16384 bytes of JSON']);
  });

  test('settings, preferences and favorites holding a lone surrogate (in a value or a key) are 400, not 500, and change nothing', async () => {
    await control.restart();
    const { token } = await signedIn();
    expect((await call('PUT', '/api/user/settings', token, { theme: 'dark' })).statusCode).toBe(200);
    const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
    // Raw JSON over HTTP: the escapes reach the server as the client wrote them.
    const send = async (method: 'PUT' | 'PATCH' | 'POST', url: string, payload: string) => {
      const res = await fetch(`${base}${url}`, { method, headers: { ...bearer(token), 'content-type': 'application/json' }, body: payload });
      return { statusCode: res.status, body: (await res.json()) as unknown };
    };
    const answers = [
      await send('PUT', '/api/user/settings', '{"theme":"x\\ud800y"}'),
      await send('PUT', '/api/user/settings', '{"\\udc00":"dark"}'),
      await send('PATCH', '/api/user/preferences', '{"nested":{"list":["\\ud83d"]}}'),
      await send('POST', '/api/user/settings/favorites', '{"favorites":[{"agentId":"\\udfff"}]}'),
    ];
    expect(answers.map((a) => [a.statusCode, a.body])).toEqual(
      Array(4).fill([400, { error: 'Bad Request', message: 'settings are not valid Unicode (a lone surrogate)' }]),
    );
    expect(server.log.filter((line) => line.startsWith('internal error'))).toEqual([]);
    expect((await call('GET', '/api/user/settings', token)).json()).toEqual({ theme: 'dark' });
    const nul = await send('PATCH', '/api/user/preferences', '{"k\\u0000":1}');
    expect([nul.statusCode, nul.body]).toEqual([400, { error: 'Bad Request', message: 'settings contain a NUL character' }]);
    // A pair is a character; a backslash followed by "u0000" is text, not NUL.
    const fine = await send('PUT', '/api/user/settings', '{"emoji":"\\ud83d\\ude00","path":"C:\\\\u0000"}');
    expect([fine.statusCode, fine.body]).toEqual([200, { emoji: '\u{1F600}', path: 'C:\\u0000' }]);
  });

  test('balance: numbers and the configured currency', async () => {
    await control.restart({ CTL_BALANCE_CURRENCY: 'EUR' });
    const { id, token } = await signedIn();
    expect((await call('GET', '/api/balance', token)).json()).toEqual({
      tokenCredits: 0,
      autoRefillEnabled: false,
      balance: 0,
      currency: 'EUR',
      tokenBalance: 0,
    });
    await server.withDb((db) => db.updateTable('users').set({ balance: '100.25', token_balance: 50000 }).where('id', '=', id).execute());
    expect((await call('GET', '/api/balance', token)).json()).toEqual({
      tokenCredits: 50000,
      autoRefillEnabled: false,
      balance: 100.25,
      currency: 'EUR',
      tokenBalance: 50000,
    });
  });
});
