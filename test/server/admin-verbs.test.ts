import { totpCode } from '../../lib/auth/mfa';
import { bearer, loginAs, useTestServer, type TestServer } from './helpers';

/**
 * The admin verbs' effects, seen from the app: command lines through the real parser and runner
 * (in-process) and the server on one database. server.ctl() makes the server let go of the
 * database first (ServerDatabase.release), as a CLI beside `ctl serve` does, and the server's next
 * request takes it again. The two as separate processes: test/server/serve-cli.test.ts.
 */
let server: TestServer;
useTestServer((s) => (server = s), 'each');

const me = (token: string) => server.app.inject({ method: 'GET', url: '/api/user', headers: bearer(token) });
const login = (login: string, password: string, extra = {}) =>
  server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { login, password, ...extra } });

async function newUser(nickname: string, password = 'correct-horse', extra: string[] = []) {
  const r = await server.ctl(['user', 'new', nickname, `${nickname}@example.com`, '-y', '--password-stdin', ...extra], { input: `${password}\n` });
  expect(r.code).toBe(0);
}

test('ctl user deactivate: login is refused with 403 and the live session stops at once', async () => {
  await newUser('alice');
  const token = await loginAs(server, 'alice');
  const r = await server.ctl(['user', 'deactivate', 'alice']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Successfully deactivated alice');
  expect((await me(token)).statusCode).toBe(401);
  const res = await login('alice', 'correct-horse');
  expect([res.statusCode, res.json()]).toEqual([403, { error: 'Forbidden', message: 'This account has been deactivated' }]);
  expect((await server.ctl(['user', 'activate', 'alice'])).code).toBe(0);
  expect((await login('alice', 'correct-horse')).statusCode).toBe(200);
});

test('ctl user sign_out: the old token gets 401, a new login works', async () => {
  await newUser('alice');
  const one = await loginAs(server, 'alice');
  const two = await loginAs(server, 'alice');
  expect((await me(one)).statusCode).toBe(200);
  const r = await server.ctl(['user', 'sign_out', 'alice']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('alice signed out from all apps.');
  for (const token of [one, two]) {
    const res = await me(token);
    expect([res.statusCode, res.json()]).toEqual([401, { error: 'Unauthorized', message: 'You must be logged in to access this resource' }]);
  }
  expect((await me(await loginAs(server, 'alice'))).statusCode).toBe(200);
});

test('ctl user invite --max-use 2: three registrations, two succeed', async () => {
  const r = await server.ctl(['user', 'invite', '--max-use', '2']);
  expect(r.code).toBe(0);
  const token = /\/registration\/([A-Za-z0-9_-]{43})$/m.exec(r.stdout)![1];
  const results = [];
  for (const name of ['ann', 'ben', 'cid']) {
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { username: name, email: `${name}@example.com`, password: `${name}-password`, inviteToken: token },
    });
    results.push([res.statusCode, res.json().message]);
  }
  // An invite for anyone vouches for no address: each account is asked to confirm its own.
  const confirm = 'User registered; confirm your email address with the link we sent';
  expect(results).toEqual([
    [201, confirm],
    [201, confirm],
    [409, 'this invite has already been used'],
  ]);
  expect((await login('ben', 'ben-password')).statusCode).toBe(200);
  const list = await server.ctl(['user', 'list', '--json']);
  expect(JSON.parse(list.stdout).map((u: { nickname: string }) => u.nickname)).toEqual(['ann', 'ben']);
});

test('ctl user new without a password: the printed link sets it through the API, then login works', async () => {
  const r = await server.ctl(['user', 'new', 'bob', 'bob@example.com', '-y']);
  expect(r.code).toBe(0);
  const token = /^URL: http:\/\/ctl\.test\/password_reset\/([A-Za-z0-9_-]{43})$/m.exec(r.stdout)![1];
  expect((await login('bob', 'whatever-it-was')).statusCode).toBe(401);
  const res = await server.app.inject({ method: 'POST', url: '/api/auth/password_reset', payload: { token, password: 'bobs-own-pass' } });
  expect(res.statusCode).toBe(200);
  expect((await login('bob', 'bobs-own-pass')).statusCode).toBe(200);
});

test('ctl user reset_mfa: a user locked out of MFA logs in with the password alone', async () => {
  await newUser('alice');
  const token = await loginAs(server, 'alice');
  const { secret } = (await server.app.inject({ method: 'POST', url: '/api/auth/2fa/enable', headers: bearer(token) })).json();
  expect(
    (await server.app.inject({ method: 'POST', url: '/api/auth/2fa/confirm', headers: bearer(token), payload: { token: totpCode(secret, server.clock) } }))
      .statusCode,
  ).toBe(200);
  expect((await login('alice', 'correct-horse')).json()).toMatchObject({ mfaRequired: true });
  const r = await server.ctl(['user', 'reset_mfa', 'alice', '-y']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Multi-Factor Authentication disabled for alice');
  const res = await login('alice', 'correct-horse');
  expect(res.statusCode).toBe(200);
  expect(res.json().user.twoFactorEnabled).toBe(false);
});

test('ctl user rm: the session dies and login says the account is deleted', async () => {
  await newUser('root', 'correct-horse', ['--admin']);
  await newUser('alice');
  const token = await loginAs(server, 'alice');
  const r = await server.ctl(['user', 'rm', 'alice', '-y']);
  expect(r.code).toBe(0);
  expect((await me(token)).statusCode).toBe(401);
  expect((await login('alice', 'correct-horse')).json()).toEqual({ error: 'Forbidden', message: 'This account has been deleted' });
});
