import { createInvite } from '../../../lib/invites/invites';
import { issueToken } from '../../../lib/tokens/store';
import { addUser, useTestServer, type TestServer } from '../helpers';

/** The link pages through inject: status codes, headers, escaping, and what a POST changes. */
let server: TestServer;
useTestServer((s) => (server = s), 'once');

const form = (fields: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(fields).toString(),
});

test('pages are HTML with a strict CSP, no referrer (the URL holds the token) and no caching', async () => {
  const res = await server.app.inject({ method: 'GET', url: `/verify/${'a'.repeat(43)}` });
  expect(res.statusCode).toBe(404);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  expect(res.headers['content-security-policy']).toContain("form-action 'self'");
  expect(res.headers).toMatchObject({ 'referrer-policy': 'no-referrer', 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
  expect(res.body).toContain('<p class="error" id="error" role="alert">This confirmation link is not valid. Check that you copied all of it.</p>');
});

test('what a person typed or an admin wrote is escaped', async () => {
  const invite = await server.withDb((_db, ctx) =>
    createInvite(ctx, { email: 'eve@example.com', name: '<script>alert(1)</script>' }, { appUrl: 'http://ctl.test' }),
  );
  const res = await server.app.inject({ method: 'GET', url: `/registration/${invite.token}` });
  expect(res.statusCode).toBe(200);
  expect(res.body).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
  expect(res.body).not.toContain('<script>');
  // The invite is for eve@example.com: the field is fixed, and another address cannot be sent in.
  expect(res.body).toMatch(/id="email"[^>]*value="eve@example\.com"[^>]*readonly/);
  const post = await server.app.inject({
    method: 'POST',
    url: `/registration/${invite.token}`,
    ...form({ username: 'eve', email: 'mallory@example.com', name: '"><b>x', password: 'eves-password', confirm_password: 'eves-password' }),
  });
  expect(post.statusCode).toBe(201);
  await server.withDb(async (db) =>
    expect(await db.selectFrom('users').select(['nickname', 'email', 'name']).execute()).toEqual([
      { nickname: 'eve', email: 'eve@example.com', name: '"><b>x' },
    ]),
  );
});

test('a registration that fails (taken name) keeps the invite and the typed values', async () => {
  await addUser(server, { nickname: 'taken' });
  const invite = await server.withDb((_db, ctx) => createInvite(ctx, {}, { appUrl: 'http://ctl.test' }));
  const res = await server.app.inject({
    method: 'POST',
    url: `/registration/${invite.token}`,
    ...form({ username: 'taken', email: 'new@example.com', name: 'New', password: 'new-password', confirm_password: 'new-password' }),
  });
  expect(res.statusCode).toBe(409);
  expect(res.body).toContain('id="error" role="alert">Nickname taken is already taken.</p>');
  expect(res.body).toContain('value="new@example.com"');
  await server.withDb(async (db) => expect(await db.selectFrom('invites').select(['uses', 'used']).execute()).toEqual([{ uses: 0, used: false }]));
});

test('POST /password_reset/<token> with a used token is the dead-link page, and nothing changes', async () => {
  const id = await addUser(server, { nickname: 'alice' });
  const { token } = await server.withDb((db) => issueToken(db, { kind: 'password_reset', userId: id, now: server.clock, ttlMs: 3600e3 }));
  const ok = await server.app.inject({
    method: 'POST',
    url: `/password_reset/${token}`,
    ...form({ password: 'first-new-pass', confirm_password: 'first-new-pass' }),
  });
  expect(ok.statusCode).toBe(200);
  expect(ok.body).toContain('Your password has been set. You can now log in as alice.');
  const again = await server.app.inject({
    method: 'POST',
    url: `/password_reset/${token}`,
    ...form({ password: 'second-new-pass', confirm_password: 'second-new-pass' }),
  });
  expect(again.statusCode).toBe(410);
  expect((await server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { login: 'alice', password: 'first-new-pass' } })).statusCode).toBe(200);
});

test('a registration form sent as JSON with fields that are not text is a 400 page, never a 500', async () => {
  const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
  const invite = await server.withDb((_db, ctx) => createInvite(ctx, { maxUse: 5 }, { appUrl: 'http://ctl.test' }));
  const post = async (fields: Record<string, unknown>) => {
    const res = await fetch(`${base}/registration/${invite.token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'jo', email: 'jo@example.com', password: 'jos-password', confirm_password: 'jos-password', ...fields }),
    });
    return [res.status, res.headers.get('content-type'), /<p class="error"[^>]*>([^<]*)<\/p>/.exec(await res.text())?.[1]];
  };
  const page = 'text/html; charset=utf-8';
  expect(await post({ username: ['jo'] })).toEqual([400, page, 'Choose a user name.']);
  expect(await post({ email: { at: 'example.com' } })).toEqual([400, page, 'Invalid email &quot;&quot;.']);
  expect(await post({ password: 12345678901, confirm_password: 12345678901 })).toEqual([400, page, 'The password is too short: at least 8 characters.']);
  expect(await post({ password: true, confirm_password: true })).toEqual([400, page, 'The password is too short: at least 8 characters.']);
  expect(server.log.filter((line) => line.startsWith('internal error'))).toEqual([]);
  const users = await server.withDb((db) => db.selectFrom('users').select('nickname').execute());
  expect(users).toEqual([]);
});
