import { sql } from 'kysely';
import { hashToken } from '../../../lib/tokens/secrets';
import { issueToken } from '../../../lib/tokens/store';
import { createInvite } from '../../../lib/invites/invites';
import { addUser, bearer, loginAs, useTestServer, type TestServer } from '../helpers';

let server: TestServer;
const control = useTestServer((s) => (server = s));

const login = (payload: Record<string, unknown>, remoteAddress = '10.0.0.1') =>
  server.app.inject({ method: 'POST', url: '/api/auth/login', payload, remoteAddress });

describe('POST /api/auth/login', () => {
  beforeEach(() => control.restart());

  test('by nickname or email, case-insensitively: a bearer token stored only as its hash, with expiry, and last_login_at', async () => {
    const id = await addUser(server, { nickname: 'alice' });
    const before = new Date(server.clock);
    const res = await login({ login: 'ALICE@example.com', password: 'correct-horse' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Date(body.expiresAt).getTime()).toBe(before.getTime() + 7 * 86400e3);
    expect(body.user).toMatchObject({ id: String(id), username: 'alice', email: 'alice@example.com', role: 'USER', provider: 'local', emailVerified: true });
    await server.withDb(async (db) => {
      const tokens = await db.selectFrom('tokens').selectAll().orderBy('id').execute();
      // The access token and the refresh token of its family (the httpOnly cookie).
      expect(tokens).toHaveLength(2);
      expect(tokens[0]).toMatchObject({ kind: 'access', user_id: id, token_hash: hashToken(body.token), revoked_at: null });
      expect(tokens[1]).toMatchObject({ kind: 'refresh', user_id: id, family: tokens[0].family, revoked_at: null });
      expect(JSON.stringify(tokens)).not.toContain(body.token);
      const user = await db.selectFrom('users').select('last_login_at').where('id', '=', id).executeTakeFirstOrThrow();
      expect(user.last_login_at).toEqual(before);
    });
    const me = await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(body.token) });
    expect(me.statusCode).toBe(200);
    expect(me.json().username).toBe('alice');
    expect((await login({ login: 'alice', password: 'correct-horse' })).statusCode).toBe(200);
  });

  test('a wrong password and an unknown login get the same 401', async () => {
    await addUser(server, { nickname: 'alice' });
    const wrong = await login({ login: 'alice', password: 'wrong-horse' });
    const nobody = await login({ login: 'nobody', password: 'wrong-horse' });
    for (const res of [wrong, nobody]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: 'Unauthorized', message: 'Invalid login or password' });
    }
    await server.withDb(async (db) => expect(await db.selectFrom('tokens').selectAll().execute()).toEqual([]));
  });

  test('an account without a password (created with a set-password link) cannot log in', async () => {
    await addUser(server, { nickname: 'bob' }, null);
    expect((await login({ login: 'bob', password: '' })).statusCode).toBe(400);
    expect((await login({ login: 'bob', password: 'anything-at-all' })).statusCode).toBe(401);
  });

  test.each([
    ['deactivated', sql`UPDATE users SET active = false`, 'This account has been deactivated'],
    ['deleted', sql`UPDATE users SET deleted_at = now(), active = false`, 'This account has been deleted'],
  ])('a %s account gets 403 naming the reason, only with the right password', async (_label, change, message) => {
    await addUser(server, { nickname: 'alice' });
    await server.withDb((db) => change.execute(db));
    const res = await login({ login: 'alice', password: 'correct-horse' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'Forbidden', message });
    expect((await login({ login: 'alice', password: 'wrong-horse' })).statusCode).toBe(401);
  });

  test('bad bodies are 400 with the reason', async () => {
    const missing = await login({ login: 'alice' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ error: 'Bad Request', message: "body must have required property 'password'" });
    const notJson = await server.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"login":' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error).toBe('Bad Request');
  });

  test('failed logins from five addresses slow the account: a sixth address the account never used gets 429 with Retry-After, even with the right password, until it has waited', async () => {
    await addUser(server, { nickname: 'alice' });
    for (let i = 0; i < 5; i++) expect((await login({ login: 'alice', password: 'wrong-horse' }, `10.0.1.${i}`)).statusCode).toBe(401);
    const limited = await login({ login: 'Alice', password: 'correct-horse' }, '10.0.2.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({ error: 'Too many requests', message: 'Too many failed login attempts; try again later' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(15 * 60);
    server.clock = new Date(server.clock.getTime() + 15 * 60e3 + 1000);
    expect((await login({ login: 'alice', password: 'correct-horse' })).statusCode).toBe(200);
  });

  test('failed logins are limited per address, whatever the login', async () => {
    await control.restart({ CTL_LOGIN_MAX_FAILURES_PER_ADDRESS: '3' });
    await addUser(server, { nickname: 'alice' });
    for (const who of ['a1', 'a2', 'a3']) expect((await login({ login: who, password: 'wrong-horse' }, '10.9.9.9')).statusCode).toBe(401);
    expect((await login({ login: 'alice', password: 'correct-horse' }, '10.9.9.9')).statusCode).toBe(429);
    expect((await login({ login: 'alice', password: 'correct-horse' }, '10.9.9.8')).statusCode).toBe(200);
  });

  test('a successful login clears the account count', async () => {
    await addUser(server, { nickname: 'alice' });
    for (let i = 0; i < 4; i++) await login({ login: 'alice', password: 'wrong-horse' });
    expect((await login({ login: 'alice', password: 'correct-horse' })).statusCode).toBe(200);
    for (let i = 0; i < 4; i++) expect((await login({ login: 'alice', password: 'wrong-horse' })).statusCode).toBe(401);
    expect((await login({ login: 'alice', password: 'correct-horse' })).statusCode).toBe(200);
  });
});

describe('unconfirmed accounts and CTL_REQUIRE_CONFIRMATION', () => {
  test('off (the default): an unconfirmed account logs in', async () => {
    await control.restart();
    await addUser(server, { nickname: 'carol', confirmed: false });
    expect((await login({ login: 'carol', password: 'correct-horse' })).statusCode).toBe(200);
  });

  test('on: 403 naming the reason', async () => {
    await control.restart({ CTL_REQUIRE_CONFIRMATION: 'true' });
    await addUser(server, { nickname: 'carol', confirmed: false });
    const res = await login({ login: 'carol', password: 'correct-horse' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'Forbidden', message: 'This account has not confirmed its email address yet' });
  });
});

describe('sessions', () => {
  beforeEach(() => control.restart({ CTL_SESSION_TTL: '1h' }));

  test('no token, a malformed one, an unknown one: 401 with the reference body', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, bearer('x'), bearer('A'.repeat(43))]) {
      const res = await server.app.inject({ method: 'GET', url: '/api/user', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: 'Unauthorized', message: 'You must be logged in to access this resource' });
    }
  });

  test('logout revokes the token presented and no other', async () => {
    await addUser(server, { nickname: 'alice' });
    const one = await loginAs(server, 'alice');
    const two = await loginAs(server, 'alice');
    const out = await server.app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(one) });
    expect(out.statusCode).toBe(200);
    expect(out.json()).toEqual({ message: 'Logged out' });
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(one) })).statusCode).toBe(401);
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(two) })).statusCode).toBe(200);
  });

  test('a token expires after CTL_SESSION_TTL', async () => {
    await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    server.clock = new Date(server.clock.getTime() + 3600e3 - 1000);
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(token) })).statusCode).toBe(200);
    server.clock = new Date(server.clock.getTime() + 2000);
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(token) })).statusCode).toBe(401);
  });

  test('only access tokens open a session: a password-reset token is no bearer token', async () => {
    const id = await addUser(server, { nickname: 'alice' });
    const issued = await server.withDb((db) => issueToken(db, { kind: 'password_reset', userId: id, now: server.clock, ttlMs: 3600e3 }));
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(issued.token) })).statusCode).toBe(401);
  });
});

describe('POST /api/auth/register', () => {
  const body = { username: 'dana', email: 'dana@example.com', password: 'dana-password', name: 'Dana D.' };

  test('closed registrations (the default) need an invite: 403', async () => {
    await control.restart();
    const res = await server.app.inject({ method: 'POST', url: '/api/auth/register', payload: body });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'Forbidden', message: 'Registration is by invitation only' });
    await server.withDb(async (db) => expect(await db.selectFrom('users').select('id').execute()).toEqual([]));
  });

  test('open registrations: 201, the account exists with an audit row, and it logs in', async () => {
    await control.restart({ CTL_REGISTRATIONS_OPEN: 'yes' });
    const res = await server.app.inject({ method: 'POST', url: '/api/auth/register', payload: body });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      message: 'User registered',
      emailVerificationRequired: false,
      user: { username: 'dana', name: 'Dana D.', emailVerified: true },
    });
    await server.withDb(async (db) => {
      const audit = await db.selectFrom('audit_log').select(['verb', 'actor', 'target_nickname']).execute();
      expect(audit).toEqual([{ verb: 'new', actor: 'app', target_nickname: 'dana' }]);
    });
    expect(await loginAs(server, 'dana', 'dana-password')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('the same rules as ctl user new: taken names 409, bad email and short password 400, mismatched confirmation 400', async () => {
    await control.restart({ CTL_REGISTRATIONS_OPEN: '1' });
    await addUser(server, { nickname: 'dana' });
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ ...body }, 409, 'nickname dana is already taken'],
      [{ ...body, username: 'other', email: 'DANA@example.com' }, 409, 'email DANA@example.com is already taken'],
      [{ ...body, username: 'other', email: 'nope' }, 400, 'invalid email "nope"'],
      [{ ...body, username: 'other', email: 'o@example.com', password: 'short' }, 400, 'the password is too short: at least 8 characters'],
      [{ ...body, username: 'other', email: 'o@example.com', confirm_password: 'different' }, 400, 'Passwords do not match'],
    ];
    for (const [payload, status, message] of cases) {
      const res = await server.app.inject({ method: 'POST', url: '/api/auth/register', payload });
      expect([res.statusCode, res.json().message]).toEqual([status, message]);
    }
  });

  test('with CTL_REQUIRE_CONFIRMATION the account starts unconfirmed and the link is mailed, never returned', async () => {
    await control.restart({ CTL_REGISTRATIONS_OPEN: 'on', CTL_REQUIRE_CONFIRMATION: 'on' });
    const res = await server.app.inject({ method: 'POST', url: '/api/auth/register', payload: body });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ emailVerificationRequired: true, verificationEmailSent: true, user: { emailVerified: false } });
    expect(res.body).not.toMatch(/verify\//);
    expect(server.mailer.sent).toHaveLength(1);
    expect(server.mailer.sent[0].to.address).toBe('dana@example.com');
    const url = /http:\/\/ctl\.test\/verify\/([A-Za-z0-9_-]{43})/.exec(server.mailer.sent[0].text)!;
    expect(url).not.toBeNull();
    expect((await login({ login: 'dana', password: 'dana-password' })).statusCode).toBe(403);
    const page = await server.app.inject({ method: 'POST', url: `/verify/${url[1]}` });
    expect(page.statusCode).toBe(200);
    expect((await login({ login: 'dana', password: 'dana-password' })).statusCode).toBe(200);
  });

  test('when the confirmation mail cannot be sent, the answer does not say it was', async () => {
    // Nothing listens on port 1 of the loopback: the SMTP connection is refused.
    await control.restart({ CTL_REGISTRATIONS_OPEN: 'on', CTL_REQUIRE_CONFIRMATION: 'on', SMTP_URL: 'smtp://127.0.0.1:1' });
    const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${base}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      message: 'User registered; confirm your email address: no mail could be sent, so ask your administrator for a confirmation link',
      emailVerificationRequired: true,
      verificationEmailSent: false,
    });
  });

  test('with an invite while registrations are closed: redeemed in the same transaction', async () => {
    await control.restart();
    const invite = await server.withDb((_db, ctx) => createInvite(ctx, { maxUse: 1 }, { appUrl: 'http://ctl.test' }));
    const res = await server.app.inject({ method: 'POST', url: '/api/auth/register', payload: { ...body, inviteToken: invite.token } });
    expect(res.statusCode).toBe(201);
    const again = await server.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { ...body, username: 'eve', email: 'eve@example.com', inviteToken: invite.token },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({ error: 'Conflict', message: 'this invite has already been used' });
    const unknown = await server.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { ...body, username: 'eve', email: 'eve@example.com', inviteToken: 'B'.repeat(43) },
    });
    expect(unknown.statusCode).toBe(404);
    await server.withDb(async (db) => {
      expect((await db.selectFrom('users').select('nickname').execute()).map((u) => u.nickname)).toEqual(['dana']);
      expect(await db.selectFrom('invites').select(['uses', 'used']).execute()).toEqual([{ uses: 1, used: true }]);
    });
  });
});

describe('POST /api/auth/password_reset', () => {
  beforeEach(() => control.restart());

  async function resetToken(userId: number, ttlMs = 3600e3) {
    return (await server.withDb((db) => issueToken(db, { kind: 'password_reset', userId, now: server.clock, ttlMs }))).token;
  }

  test('sets the password once, signs every session out, and the token never works again', async () => {
    const id = await addUser(server, { nickname: 'alice' });
    const session = await loginAs(server, 'alice');
    const token = await resetToken(id);
    const res = await server.app.inject({ method: 'POST', url: '/api/auth/password_reset', payload: { token, password: 'brand-new-pass' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: 'Password reset successfully' });
    expect((await server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(session) })).statusCode).toBe(401);
    expect((await login({ login: 'alice', password: 'correct-horse' })).statusCode).toBe(401);
    expect(await loginAs(server, 'alice', 'brand-new-pass')).toBeTruthy();
    const reused = await server.app.inject({ method: 'POST', url: '/api/auth/password_reset', payload: { token, password: 'another-pass-1' } });
    expect(reused.statusCode).toBe(400);
    expect(reused.json()).toEqual({ error: 'Invalid or expired password reset token', message: 'this password reset link was already used' });
  });

  test('expired and unknown tokens are 400; a weak password is 400 and leaves the token usable', async () => {
    const id = await addUser(server, { nickname: 'alice' });
    const expired = await resetToken(id, 1000);
    server.clock = new Date(server.clock.getTime() + 2000);
    const late = await server.app.inject({ method: 'POST', url: '/api/auth/password_reset', payload: { token: expired, password: 'brand-new-pass' } });
    expect([late.statusCode, late.json()]).toEqual([
      400,
      { error: 'Invalid or expired password reset token', message: 'this password reset link has expired' },
    ]);
    const unknown = await server.app.inject({
      method: 'POST',
      url: '/api/auth/password_reset',
      payload: { token: 'C'.repeat(43), password: 'brand-new-pass' },
    });
    expect([unknown.statusCode, unknown.json()]).toEqual([400, { error: 'Invalid or expired password reset token', message: 'unknown password reset token' }]);
    const token = await resetToken(id);
    const weak = await server.app.inject({ method: 'POST', url: '/api/auth/password_reset', payload: { token, password: 'short' } });
    expect([weak.statusCode, weak.json()]).toEqual([400, { error: 'Bad Request', message: 'the password is too short: at least 8 characters' }]);
    expect((await server.app.inject({ method: 'POST', url: '/api/auth/password_reset', payload: { token, password: 'long-enough-now' } })).statusCode).toBe(
      200,
    );
  });
});
