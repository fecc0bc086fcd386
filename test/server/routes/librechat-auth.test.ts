import { totpCode } from '../../../lib/auth/mfa';
import { createPasswordReset } from '../../../lib/user/reset_password';
import { addUser, bearer, loginAs, useTestServer, type TestServer } from '../helpers';

/**
 * The refresh cookie, refresh-token rotation and the two-step 2FA login, attacked over real HTTP
 * against `ctl serve` on 127.0.0.1 (SECURITY.md, issue 14's rows). The client's journey through
 * LibreChat's own package is test/server/librechat-client.test.ts.
 */
let server: TestServer;
let base: string;
const control = useTestServer((s) => (server = s));

async function listen(env: Record<string, string> = {}): Promise<void> {
  await control.restart(env);
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

async function post(url: string, payload: object | null, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: payload === null ? '' : JSON.stringify(payload),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const refreshTokenOf = (answer: Answer) => /refreshToken=([^;]*)/.exec(answer.headers.get('set-cookie') ?? '')?.[1] ?? null;
const refresh = (token: string) => post('/api/auth/refresh', null, { cookie: `refreshToken=${token}` });

describe('the refresh cookie', () => {
  test('httpOnly, SameSite=Strict, path /api/auth; Secure unless the request came to a loopback host', async () => {
    await listen();
    await addUser(server, { nickname: 'alice' });
    const payload = { email: 'alice', password: 'correct-horse' };
    const local = await server.app.inject({ method: 'POST', url: '/api/auth/login', payload, headers: { host: '127.0.0.1:3080' } });
    expect(local.headers['set-cookie']).toMatch(/^refreshToken=[A-Za-z0-9_-]{43}; Path=\/api\/auth; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
    const remote = await server.app.inject({ method: 'POST', url: '/api/auth/login', payload, headers: { host: 'chat.example.com' } });
    expect(remote.headers['set-cookie']).toMatch(/; HttpOnly; Secure; SameSite=Strict$/);
  });

  test('with an https APP_URL the cookie is Secure on loopback too', async () => {
    await listen({ APP_URL: 'https://chat.example.com' });
    await addUser(server, { nickname: 'alice' });
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'alice', password: 'correct-horse' },
      headers: { host: 'localhost' },
    });
    expect(res.headers['set-cookie']).toMatch(/; HttpOnly; Secure; SameSite=Strict$/);
  });

  test('the refresh token is stored only as its hash, and expires after CTL_REFRESH_TTL', async () => {
    await listen({ CTL_REFRESH_TTL: '2h' });
    await addUser(server, { nickname: 'alice' });
    const token = refreshTokenOf(await post('/api/auth/login', { email: 'alice', password: 'correct-horse' }))!;
    const rows = await server.withDb((db) => db.selectFrom('tokens').selectAll().where('kind', '=', 'refresh').execute());
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows[0].expires_at).toEqual(new Date(server.clock.getTime() + 2 * 3600e3));
    server.clock = new Date(server.clock.getTime() + 2 * 3600e3);
    expect((await refresh(token)).status).toBe(401);
  });
});

describe('refresh-token rotation', () => {
  beforeEach(() => listen());

  test('10 simultaneous refreshes with one token: one rotates, the others are reuse, and the family is revoked', async () => {
    await addUser(server, { nickname: 'alice' });
    const token = refreshTokenOf(await post('/api/auth/login', { email: 'alice', password: 'correct-horse' }))!;
    const answers = await Promise.all(Array.from({ length: 10 }, () => refresh(token)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array(9).fill(401)]);
    const winner = answers.find((a) => a.status === 200)!;
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(String(winner.body.token)) })).statusCode).toBe(401);
    expect((await refresh(refreshTokenOf(winner)!)).status).toBe(401);
  });

  test("a reuse revokes only that family: the user's other browsers stay signed in", async () => {
    await addUser(server, { nickname: 'alice' });
    const stolen = refreshTokenOf(await post('/api/auth/login', { email: 'alice', password: 'correct-horse' }))!;
    const other = await post('/api/auth/login', { email: 'alice', password: 'correct-horse' });
    expect((await refresh(stolen)).status).toBe(200);
    expect((await refresh(stolen)).status).toBe(401);
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(String(other.body.token)) })).statusCode).toBe(200);
    expect((await refresh(refreshTokenOf(other)!)).status).toBe(200);
  });

  test('a malformed or unknown cookie is 401 and clears the cookie; no cookie is 401', async () => {
    await addUser(server, { nickname: 'alice' });
    for (const value of ['x', 'A'.repeat(43)]) {
      const res = await refresh(value);
      expect([res.status, res.body.message]).toEqual([401, 'Invalid or expired refresh token']);
      expect(res.headers.get('set-cookie')).toMatch(/^refreshToken=; Max-Age=0; Path=\/api\/auth; Expires=Thu, 01 Jan 1970 [^;]+; HttpOnly; SameSite=Strict$/);
    }
    expect((await post('/api/auth/refresh', null)).body.message).toBe('No refresh token');
  });

  test('logout with only the cookie (the access token already expired) ends the family', async () => {
    await addUser(server, { nickname: 'alice' });
    const token = refreshTokenOf(await post('/api/auth/login', { email: 'alice', password: 'correct-horse' }))!;
    expect((await post('/api/auth/logout', null, { cookie: `refreshToken=${token}` })).status).toBe(200);
    expect((await refresh(token)).status).toBe(401);
    expect((await post('/api/auth/logout', null)).status).toBe(401);
  });

  test('a logout or refresh posted from another origin of the same site with the cookie is refused, and the family lives on', async () => {
    await addUser(server, { nickname: 'alice' });
    const login = await post('/api/auth/login', { email: 'alice', password: 'correct-horse' });
    const token = refreshTokenOf(login)!;
    const cookie = { cookie: `refreshToken=${token}` };
    // A page on a sibling subdomain: SameSite=Strict lets the cookie go (same site), and an
    // empty-body POST needs no preflight. Current browsers say so in Sec-Fetch-Site, older ones
    // only in Origin.
    const sibling = 'http://evil.ctl.test';
    for (const headers of [
      { ...cookie, origin: sibling, 'sec-fetch-site': 'same-site' },
      { ...cookie, origin: sibling },
      { ...cookie, origin: 'null' },
      { ...cookie, 'sec-fetch-site': 'cross-site' },
    ]) {
      for (const url of ['/api/auth/logout', '/api/auth/refresh']) {
        const res = await post(url, null, headers);
        expect([url, res.status, res.body.message]).toEqual([url, 403, 'This request came from another origin, so its refresh cookie was refused']);
        expect(res.headers.get('set-cookie')).toBeNull();
      }
    }
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(String(login.body.token)) })).statusCode).toBe(200);
    const rotated = await refresh(token);
    expect(rotated.status).toBe(200);
    // From the app's own origin, as a browser sends it (APP_URL's origin, or the address it was reached at).
    const next = refreshTokenOf(rotated)!;
    const own = await post('/api/auth/refresh', null, { cookie: `refreshToken=${next}`, origin: 'http://ctl.test', 'sec-fetch-site': 'same-origin' });
    expect(own.status).toBe(200);
    const last = refreshTokenOf(own)!;
    expect((await post('/api/auth/logout', null, { cookie: `refreshToken=${last}`, origin: base })).status).toBe(200);
    expect((await refresh(last)).status).toBe(401);
  });
});

describe('the two-step 2FA login', () => {
  let secret: string;

  async function aliceWithMfa(): Promise<void> {
    await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    secret = String((await post('/api/auth/2fa/enable', null, bearer(token))).body.secret);
    expect((await post('/api/auth/2fa/confirm', { token: totpCode(secret, server.clock) }, bearer(token))).status).toBe(200);
    server.clock = new Date(server.clock.getTime() + 30e3);
  }

  const tempToken = async () => String((await post('/api/auth/login', { email: 'alice', password: 'correct-horse' })).body.tempToken);
  const wrong = () => (totpCode(secret, server.clock) === '000000' ? '111111' : '000000');
  const verify = (temp: string, code: string) => post('/api/auth/2fa/verify-temp', { tempToken: temp, token: code });

  test('a wrong password gives no temp token; the {login} form keeps its 401 mfaRequired', async () => {
    await listen();
    await aliceWithMfa();
    expect((await post('/api/auth/login', { email: 'alice', password: 'wrong-horse' })).body).toEqual({
      error: 'Unauthorized',
      message: 'Invalid login or password',
    });
    const own = await post('/api/auth/login', { login: 'alice', password: 'correct-horse' });
    expect([own.status, own.body.mfaRequired, own.body.tempToken]).toEqual([401, true, undefined]);
  });

  test('one temp token tolerates 5 wrong codes, then not even the right one works', async () => {
    await listen({ CTL_LOGIN_MAX_FAILURES: '20' });
    await aliceWithMfa();
    const temp = await tempToken();
    for (let i = 0; i < 5; i++) expect((await verify(temp, wrong())).status).toBe(401);
    expect((await verify(temp, totpCode(secret, server.clock))).body.message).toBe('Invalid or expired two-factor login; log in again');
    expect((await verify(await tempToken(), totpCode(secret, server.clock))).status).toBe(200);
  });

  test('wrong codes count per account across temp tokens: CTL_LOGIN_MAX_FAILURES of them, then 429 with Retry-After', async () => {
    await listen({ CTL_LOGIN_MAX_FAILURES: '7' });
    await aliceWithMfa();
    const first = await tempToken();
    for (let i = 0; i < 5; i++) expect((await verify(first, wrong())).status).toBe(401);
    const second = await tempToken();
    for (let i = 0; i < 2; i++) expect((await verify(second, wrong())).status).toBe(401);
    const limited = await verify(second, totpCode(secret, server.clock));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    server.clock = new Date(server.clock.getTime() + 15 * 60e3 + 1000);
    expect((await verify(await tempToken(), totpCode(secret, server.clock))).status).toBe(200);
  });

  test('8 simultaneous wrong codes on one temp token: 5 are checked, the temp token is dead', async () => {
    await listen({ CTL_LOGIN_MAX_FAILURES: '100' });
    await aliceWithMfa();
    const temp = await tempToken();
    const answers = await Promise.all(Array.from({ length: 8 }, () => verify(temp, wrong())));
    expect(answers.filter((a) => a.body.message === 'Invalid two-factor authentication code')).toHaveLength(5);
    const failures = await server.withDb((db) => db.selectFrom('two_factor_challenges').select('failures').executeTakeFirstOrThrow());
    expect(failures.failures).toBe(5);
  });

  test('a temp token dies after 5 minutes and when the password changes', async () => {
    await listen();
    await aliceWithMfa();
    const old = await tempToken();
    server.clock = new Date(server.clock.getTime() + 5 * 60e3);
    expect((await verify(old, totpCode(secret, server.clock))).status).toBe(401);
    const temp = await tempToken();
    expect((await server.ctl(['user', 'reset_password', 'alice', 'another-horse-pass', '-y'])).code).toBe(0);
    expect((await verify(temp, totpCode(secret, server.clock))).status).toBe(401);
  });

  const ended = { error: 'Unauthorized', message: 'Invalid or expired two-factor login; log in again', mfaRequired: true };

  test('ctl user sign_out ends a pending two-step login: verify-temp with the right code is 401, and the audit row says so', async () => {
    await listen();
    await aliceWithMfa();
    const temp = await tempToken();
    expect((await server.ctl(['user', 'sign_out', 'alice'])).code).toBe(0);
    const answer = await verify(temp, totpCode(secret, server.clock));
    expect([answer.status, answer.body]).toEqual([401, ended]);
    const audit = await server.withDb((db) => db.selectFrom('audit_log').select('details').where('verb', '=', 'sign_out').execute());
    expect(audit.map((a) => (a.details as { twoFactorChallenges?: number }).twoFactorChallenges)).toEqual([1]);
    // A new login with the password and a code still works.
    expect((await verify(await tempToken(), totpCode(secret, server.clock))).status).toBe(200);
  });

  test.each([
    ['sign_out', ['user', 'sign_out', 'alice']],
    ['deactivate', ['user', 'deactivate', 'alice']],
    ['soft rm', ['user', 'rm', 'alice']],
    ['reset_mfa', ['user', 'reset_mfa', 'alice']],
    ['reset_password', ['user', 'reset_password', 'alice', 'another-horse-pass', '-y']],
    ['reset_password --keep-sessions', ['user', 'reset_password', 'alice', 'another-horse-pass', '--keep-sessions', '-y']],
  ])('ctl user %s ends every pending two-step login in its transaction: no challenge left, verify-temp is 401', async (_name, args) => {
    await listen();
    await aliceWithMfa();
    const temps = [await tempToken(), await tempToken()];
    const result = await server.ctl(args);
    expect([result.code, result.stderr]).toEqual([0, expect.not.stringContaining('Error')]);
    expect(await server.withDb((db) => db.selectFrom('two_factor_challenges').selectAll().execute())).toEqual([]);
    for (const temp of temps) {
      const answer = await verify(temp, totpCode(secret, server.clock));
      expect([answer.status, answer.body]).toEqual([401, ended]);
    }
  });

  test('a password reset through the link (POST /api/auth/password_reset) ends pending two-step logins', async () => {
    await listen();
    await aliceWithMfa();
    const temp = await tempToken();
    const link = await server.withDb((_db, ctx) => createPasswordReset(ctx, 'alice', server.config));
    expect((await post('/api/auth/password_reset', { token: link.token, password: 'another-horse-pass' })).status).toBe(200);
    expect(await server.withDb((db) => db.selectFrom('two_factor_challenges').selectAll().execute())).toEqual([]);
    expect((await verify(temp, totpCode(secret, server.clock))).status).toBe(401);
  });
});

describe('guessing codes with a stolen session', () => {
  test('disable, regenerate, re-enrol and delete share one count per account: CTL_LOGIN_MAX_FAILURES wrong codes, then 429 even for the right one', async () => {
    await listen({ CTL_LOGIN_MAX_FAILURES: '4' });
    await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    const secret = String((await post('/api/auth/2fa/enable', null, bearer(token))).body.secret);
    expect((await post('/api/auth/2fa/confirm', { token: totpCode(secret, server.clock) }, bearer(token))).status).toBe(200);
    server.clock = new Date(server.clock.getTime() + 30e3);
    const wrong = totpCode(secret, server.clock) === '000000' ? '111111' : '000000';
    const del = (code: string) =>
      fetch(`${base}/api/user/delete`, {
        method: 'DELETE',
        headers: { 'content-type': 'application/json', ...bearer(token) },
        body: JSON.stringify({ token: code }),
      });
    expect((await post('/api/auth/2fa/disable', { token: wrong }, bearer(token))).status).toBe(400);
    expect((await post('/api/auth/2fa/backup/regenerate', { backupCode: 'aaaaa-bbbbb' }, bearer(token))).status).toBe(400);
    expect((await post('/api/auth/2fa/enable', { token: wrong }, bearer(token))).status).toBe(400);
    expect((await del(wrong)).status).toBe(400);
    const limited = await del(totpCode(secret, server.clock));
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, String(15 * 60)]);
    expect((await post('/api/auth/2fa/disable', { token: totpCode(secret, server.clock) }, bearer(token))).status).toBe(429);
    server.clock = new Date(server.clock.getTime() + 15 * 60e3);
    expect((await del(totpCode(secret, server.clock))).status).toBe(200);
  });
});

describe('guessing the code of an enrolment', () => {
  const limitedBody = { error: 'Too many requests', message: 'Too many wrong two-factor codes; try again later' };
  const wrongFor = (secret: string) => (totpCode(secret, server.clock) === '000000' ? '111111' : '000000');

  test('confirm counts wrong codes per account: CTL_LOGIN_MAX_FAILURES of them, then 429 with Retry-After even for the right code', async () => {
    await listen({ CTL_LOGIN_MAX_FAILURES: '3' });
    await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    const secret = String((await post('/api/auth/2fa/enable', null, bearer(token))).body.secret);
    const confirm = (code: string) => post('/api/auth/2fa/confirm', { token: code }, bearer(token));
    for (let i = 0; i < 3; i++) expect((await confirm(wrongFor(secret))).status).toBe(400);
    const limited = await confirm(totpCode(secret, server.clock));
    expect([limited.status, limited.body, limited.headers.get('retry-after')]).toEqual([429, limitedBody, String(15 * 60)]);
    // verify answers the same: it is no way around confirm's limit.
    expect((await post('/api/auth/2fa/verify', { token: totpCode(secret, server.clock) }, bearer(token))).status).toBe(429);
    server.clock = new Date(server.clock.getTime() + 15 * 60e3);
    expect((await confirm(totpCode(secret, server.clock))).status).toBe(200);
  });

  test('verify and confirm share the count with the other routes; a right code is not counted', async () => {
    await listen({ CTL_LOGIN_MAX_FAILURES: '3' });
    await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    const secret = String((await post('/api/auth/2fa/enable', null, bearer(token))).body.secret);
    const verify = (code: string) => post('/api/auth/2fa/verify', { token: code }, bearer(token));
    expect((await verify(wrongFor(secret))).status).toBe(400);
    expect((await verify(totpCode(secret, server.clock))).status).toBe(200);
    expect((await verify(totpCode(secret, server.clock))).status).toBe(200);
    expect((await post('/api/auth/2fa/confirm', { token: totpCode(secret, server.clock) }, bearer(token))).status).toBe(200);
    server.clock = new Date(server.clock.getTime() + 30e3);
    // A re-enrolment: a wrong current code at enable, then wrong codes for the new secret at confirm.
    expect((await post('/api/auth/2fa/enable', { token: wrongFor(secret) }, bearer(token))).status).toBe(400);
    const again = await post('/api/auth/2fa/enable', { token: totpCode(secret, server.clock) }, bearer(token));
    const fresh = String(again.body.secret);
    expect((await post('/api/auth/2fa/confirm', { token: wrongFor(fresh) }, bearer(token))).status).toBe(400);
    const limited = await post('/api/auth/2fa/confirm', { token: totpCode(fresh, server.clock) }, bearer(token));
    expect([limited.status, limited.body]).toEqual([429, limitedBody]);
    // The old secret stays in force; the login's second step is limited too.
    const temp = String((await post('/api/auth/login', { email: 'alice', password: 'correct-horse' })).body.tempToken);
    server.clock = new Date(server.clock.getTime() + 30e3);
    expect((await post('/api/auth/2fa/verify-temp', { tempToken: temp, token: totpCode(secret, server.clock) })).status).toBe(429);
  });
});

describe('an empty JSON body', () => {
  beforeEach(() => listen());

  test('Content-Type: application/json with no bytes is {} (as Express takes it); bad JSON and __proto__ stay 400', async () => {
    await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    const accept = await post('/api/user/terms/accept', null, bearer(token));
    expect([accept.status, accept.body.termsAccepted]).toEqual([200, true]);
    const raw = (body: string) =>
      fetch(`${base}/api/user/terms/accept`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(token) }, body });
    expect((await raw('{')).status).toBe(400);
    expect((await raw('{"__proto__": {"admin": true}}')).status).toBe(400);
  });
});
