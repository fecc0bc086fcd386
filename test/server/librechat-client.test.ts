import axios from 'axios';
import { cookiesFor, dataService, failure, request, resetClient, setTokenHeader, type ClientEvents } from '../helpers/librechat-client';
import { totpCode } from '../../lib/auth/mfa';
import { addUser, useTestServer, type TestServer } from './helpers';

/**
 * LibreChat's own client (librechat-data-provider 0.8.524, the package its frontend runs) against
 * a real `ctl serve` on 127.0.0.1, only through the package's functions: dataService.*, its request
 * layer (request.refreshToken), setTokenHeader, and its axios interceptors that answer a 401 with
 * POST /api/auth/refresh and retry. The httpOnly refresh cookie lives in a cookie jar, as in a
 * browser. The admin's side runs through the real command line, in-process, on the same database.
 */
let server: TestServer;
let base: string;
let events: ClientEvents;
const control = useTestServer((s) => (server = s));

async function listen(env: Record<string, string> = {}): Promise<void> {
  await control.restart(env);
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
  events = resetClient(base);
}

/** What the client does after a login: it puts the token into its header. */
async function logIn(email: string, password = 'correct-horse') {
  const res = await dataService.login({ email, password });
  if (res.token) setTokenHeader(res.token);
  return res;
}

/** The next TOTP step: a code, once used, never works again (replay protection). */
const tick = () => (server.clock = new Date(server.clock.getTime() + 30e3));

const secretOf = (otpauthUrl: string) => new URL(otpauthUrl).searchParams.get('secret')!;
const codeFor = (secret: string) => totpCode(secret, server.clock);
const lastMailToken = (path: string) => new RegExp(`/${path}/([A-Za-z0-9_-]{43})`).exec(server.mailer.sent.at(-1)!.text)![1];
const idOf = async (nickname: string) =>
  server.withDb(async (db) => String((await db.selectFrom('users').select('id').where('nickname', '=', nickname).executeTakeFirstOrThrow()).id));
const refreshCookie = async () => (await cookiesFor(`${base}/api/auth/refresh`)).find((c) => c.key === 'refreshToken')?.value ?? null;

/** Turns 2FA on for the signed-in user through the client (enable → verify → confirm); returns the secret and backup codes. */
async function enrol(): Promise<{ secret: string; backupCodes: string[] }> {
  const enabled = await dataService.enableTwoFactor();
  const secret = secretOf(enabled.otpauthUrl);
  const code = codeFor(secret);
  expect(await dataService.verifyTwoFactor({ token: code })).toEqual({ message: '2FA code verified successfully.' });
  expect(await dataService.confirmTwoFactor({ token: code })).toMatchObject({ twoFactorEnabled: true });
  tick();
  return { secret, backupCodes: enabled.backupCodes };
}

describe('login and reload', () => {
  beforeEach(() => listen());

  test('login by email and by username: 200 {token, user} and an httpOnly, SameSite=Strict refreshToken cookie', async () => {
    await addUser(server, { nickname: 'alice', name: 'Alice' });
    for (const who of ['alice@example.com', 'alice']) {
      const res = await logIn(who);
      expect(res.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(res.user).toMatchObject({ username: 'alice', email: 'alice@example.com', name: 'Alice', role: 'USER', provider: 'local', avatar: '' });
      const [cookie] = await cookiesFor(`${base}/api/auth/refresh`);
      expect([cookie.key, cookie.httpOnly, cookie.sameSite, cookie.path]).toEqual(['refreshToken', true, 'strict', '/api/auth']);
      expect(await cookiesFor(`${base}/api/user`)).toEqual([]);
    }
  });

  test('a reload: no token in memory, the cookie alone gets a new token and the user', async () => {
    await addUser(server, { nickname: 'alice' });
    const first = await logIn('alice');
    setTokenHeader(undefined);
    const res = await request.refreshToken();
    expect(res?.user.username).toBe('alice');
    expect(res?.token).not.toBe(first.token);
    setTokenHeader(res!.token);
    expect((await dataService.getUser()).username).toBe('alice');
  });

  test('a 401 is answered by the package with a refresh and the call retried: the user never notices', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    setTokenHeader('a-token-the-server-never-issued-0000000000');
    expect((await dataService.getUser()).username).toBe('alice');
    expect(events.tokensUpdated).toHaveLength(1);
    expect(events.loginRedirects).toEqual([]);
  });
});

describe('registration from an invite and email verification (CTL_REQUIRE_CONFIRMATION on)', () => {
  beforeEach(() => listen({ CTL_REQUIRE_CONFIRMATION: 'true' }));

  test('register {name, email, username, password, confirm_password, token}, resend, verify {email, token}, then log in', async () => {
    const invite = await server.ctl(['user', 'invite']);
    const token = /\/registration\/([A-Za-z0-9_-]{43})$/m.exec(invite.stdout)![1];
    const registered = await dataService.register({
      name: 'Carol',
      email: 'carol@example.com',
      username: 'carol',
      password: 'carols-password',
      confirm_password: 'carols-password',
      token,
    });
    expect(registered.message).toMatch(/^User registered/);
    expect(await failure(dataService.login({ email: 'carol', password: 'carols-password' }))).toEqual({
      status: 403,
      body: { error: 'Forbidden', message: 'This account has not confirmed its email address yet' },
    });
    expect(await dataService.resendVerificationEmail({ email: 'carol@example.com' })).toHaveProperty('message');
    await server.mailer.waitFor(2);
    expect(server.mailer.sent.map((m) => m.to.address)).toEqual(['carol@example.com', 'carol@example.com']);
    expect(await failure(dataService.verifyEmail({ email: 'someone@example.com', token: lastMailToken('verify') }))).toMatchObject({ status: 400 });
    expect(await dataService.verifyEmail({ email: 'carol@example.com', token: lastMailToken('verify') })).toEqual({ message: 'Email verified successfully' });
    expect((await logIn('carol@example.com', 'carols-password')).user?.name).toBe('Carol');
  });

  test('without an invite the registration is refused while registrations are closed', async () => {
    const body = { name: 'Dan', email: 'dan@example.com', username: 'dan', password: 'dans-password', confirm_password: 'dans-password' };
    expect(await failure(dataService.register(body))).toMatchObject({ status: 403 });
  });
});

describe('the Users API as the client calls it', () => {
  beforeEach(() => listen());

  test('GET /api/user has TUser’s shape', async () => {
    await addUser(server, { nickname: 'alice', name: 'Alice', admin: true });
    await logIn('alice');
    const user = await dataService.getUser();
    expect(user).toMatchObject({ username: 'alice', role: 'ADMIN', provider: 'local', avatar: '', twoFactorEnabled: false, plugins: [] });
    expect(new Date(user.updatedAt).toISOString()).toBe(user.updatedAt);
    expect(new Date(user.createdAt).toISOString()).toBe(user.createdAt);
  });

  test('plugins one at a time {pluginKey, action}, terms, balance, avatar, favourites and preferences', async () => {
    const id = await addUser(server, { nickname: 'alice' });
    await server.withDb((db) => db.updateTable('users').set({ token_balance: 1234 }).where('id', '=', id).execute());
    await logIn('alice');

    await dataService.updateUserPlugins({ pluginKey: 'web-search', action: 'install' });
    await dataService.updateUserPlugins({ pluginKey: 'calculator', action: 'install', auth: null });
    await dataService.updateUserPlugins({ pluginKey: 'web-search', action: 'uninstall' });
    expect((await dataService.getUser()).plugins).toEqual(['calculator']);

    expect(await dataService.getUserTerms()).toMatchObject({ termsAccepted: false, termsAcceptedAt: null });
    const accepted = await dataService.acceptTerms();
    expect(accepted).toMatchObject({ message: 'Terms accepted', termsAcceptedAt: server.clock.toISOString() });
    expect(await dataService.getUserTerms()).toMatchObject({ termsAccepted: true, termsAcceptedAt: server.clock.toISOString() });

    expect(await dataService.getUserBalance()).toMatchObject({ tokenCredits: 1234, autoRefillEnabled: false });

    const form = new FormData();
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
    form.append('file', new Blob([png], { type: 'image/png' }), 'avatar.png');
    const uploaded = await dataService.uploadAvatar(form);
    // An unguessable path per upload (issue 13): the id, then 32 random hex digits.
    expect(uploaded.url).toMatch(new RegExp(`^/avatars/${id}-[0-9a-f]{32}\\.png$`));
    expect((await dataService.getUser()).avatar).toBe(uploaded.url);

    const favorites = [{ agentId: 'agent_1' }, { model: 'gpt-4o', endpoint: 'openAI' }];
    expect(await dataService.updateFavorites(favorites)).toEqual(favorites);
    expect(await dataService.getFavorites()).toEqual(favorites);
    const preferences = await dataService.updateUserPreferences({ statefulCodeEnvironment: 'off' as never });
    expect(preferences).toEqual({ updated: true, preferences: { statefulCodeEnvironment: 'off' } });
  });
});

describe('two-factor authentication through the client', () => {
  beforeEach(() => listen());

  test('enrol (enable → verify → confirm), then log in with the temp token and a TOTP code, then with a backup code', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    const { secret, backupCodes } = await enrol();
    expect((await dataService.getUser()).twoFactorEnabled).toBe(true);
    resetClient(base);

    const pending = await dataService.login({ email: 'alice@example.com', password: 'correct-horse' });
    expect(pending).toEqual({ twoFAPending: true, tempToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), message: 'Two-factor authentication required' });
    expect(await refreshCookie()).toBeNull();
    const done = await dataService.verifyTwoFactorTemp({ tempToken: pending.tempToken!, token: codeFor(secret) });
    expect(done.user?.username).toBe('alice');
    setTokenHeader(done.token);
    expect((await dataService.getUser()).twoFactorEnabled).toBe(true);
    expect(await refreshCookie()).not.toBeNull();
    expect(await failure(dataService.verifyTwoFactorTemp({ tempToken: pending.tempToken!, token: codeFor(secret) }))).toMatchObject({ status: 401 });

    resetClient(base);
    const again = await dataService.login({ email: 'alice', password: 'correct-horse' });
    expect(await failure(dataService.verifyTwoFactorTemp({ tempToken: again.tempToken!, backupCode: 'aaaaa-bbbbb' }))).toMatchObject({ status: 401 });
    const byBackup = await dataService.verifyTwoFactorTemp({ tempToken: again.tempToken!, backupCode: backupCodes[0] });
    expect(byBackup.user?.username).toBe('alice');

    resetClient(base);
    const third = await dataService.login({ email: 'alice', password: 'correct-horse' });
    expect(await failure(dataService.verifyTwoFactorTemp({ tempToken: third.tempToken!, backupCode: backupCodes[0] }))).toMatchObject({ status: 401 });
  });

  test('the inline code shortcut: {email, password, token} logs in at once', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    const { secret } = await enrol();
    resetClient(base);
    const res = await dataService.login({ email: 'alice', password: 'correct-horse', token: codeFor(secret) });
    expect(res.user?.username).toBe('alice');
    expect(res.twoFAPending).toBeUndefined();
  });

  test('regenerate with {backupCode} returns backupCodesHash; enable while on re-enrols; disable with {backupCode}', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    const { secret, backupCodes } = await enrol();

    const regenerated = await dataService.regenerateBackupCodes({ backupCode: backupCodes[1] });
    expect(regenerated.backupCodes).toHaveLength(10);
    expect(regenerated.backupCodesHash).toHaveLength(10);
    expect(regenerated.backupCodesHash[0]).toMatchObject({ used: false, usedAt: null });
    expect(await failure(dataService.disableTwoFactor({ backupCode: backupCodes[2] }))).toMatchObject({ status: 400 });

    expect(await failure(dataService.enableTwoFactor())).toMatchObject({ status: 400 });
    const reenrol = await dataService.enableTwoFactor({ token: codeFor(secret) });
    tick();
    const newSecret = secretOf(reenrol.otpauthUrl);
    expect(newSecret).not.toBe(secret);
    // Until confirmed, the old secret is the one in force.
    expect((await dataService.login({ email: 'alice', password: 'correct-horse', token: codeFor(secret) })).user?.username).toBe('alice');
    expect(await dataService.verifyTwoFactor({ token: codeFor(newSecret) })).toHaveProperty('message');
    await dataService.confirmTwoFactor({ token: codeFor(newSecret) });
    tick();
    expect(await failure(dataService.login({ email: 'alice', password: 'correct-horse', token: codeFor(secret) }))).toMatchObject({ status: 401 });

    expect(await dataService.disableTwoFactor({ backupCode: reenrol.backupCodes[0] })).toMatchObject({ message: 'Two-factor authentication disabled' });
    expect((await dataService.getUser()).twoFactorEnabled).toBe(false);
  });
});

describe('password reset, logout and account deletion', () => {
  beforeEach(() => listen());

  test('requestPasswordReset mails a link; resetPassword {userId, token, password} sets it and ends every session', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    const answer = { message: 'If an account with that email exists, a password reset link has been sent to it.' };
    expect(await dataService.requestPasswordReset({ email: 'nobody@example.com' })).toEqual(answer);
    await server.settled();
    expect(server.mailer.sent).toEqual([]);
    expect(await dataService.requestPasswordReset({ email: 'alice@example.com' })).toEqual(answer);
    await server.mailer.waitFor(1);
    const token = lastMailToken('password_reset');
    const userId = await idOf('alice');
    expect(await failure(dataService.resetPassword({ userId: '999999', token, password: 'new-horse-pass' }))).toMatchObject({ status: 400 });
    expect(await dataService.resetPassword({ userId, token, password: 'new-horse-pass', confirm_password: 'new-horse-pass' })).toHaveProperty('message');
    expect(await failure(request.refreshToken())).toMatchObject({ status: 401 });
    expect(await failure(dataService.login({ email: 'alice', password: 'correct-horse' }))).toMatchObject({ status: 401 });
    expect((await logIn('alice', 'new-horse-pass')).user?.username).toBe('alice');
  });

  test('logout ends the session and its refresh cookie', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    const cookie = await refreshCookie();
    expect(await dataService.logout()).toEqual({ message: 'Logged out' });
    expect(await refreshCookie()).toBeNull();
    const stolen = await fetch(`${base}/api/auth/refresh`, { method: 'POST', headers: { cookie: `refreshToken=${cookie}` } });
    expect(stolen.status).toBe(401);
  });

  test('logout posted from the app’s own origin, as a browser sends it, ends the family also once the access token has expired', async () => {
    await listen({ CTL_SESSION_TTL: '15m' });
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    const cookie = await refreshCookie();
    server.clock = new Date(server.clock.getTime() + 20 * 60e3);
    // What a browser adds to the package's request from the app's page: the app's origin.
    const browser = axios.interceptors.request.use((config) => {
      config.headers.set('Origin', base);
      config.headers.set('Sec-Fetch-Site', 'same-origin');
      return config;
    });
    try {
      expect(await dataService.logout()).toEqual({ message: 'Logged out' });
    } finally {
      axios.interceptors.request.eject(browser);
    }
    expect(await refreshCookie()).toBeNull();
    const stolen = await fetch(`${base}/api/auth/refresh`, { method: 'POST', headers: { cookie: `refreshToken=${cookie}` } });
    expect(stolen.status).toBe(401);
  });

  test('deleting an account with 2FA on takes a code; without 2FA it does not', async () => {
    await addUser(server, { nickname: 'alice' });
    await addUser(server, { nickname: 'bob' });
    await logIn('alice');
    const { secret } = await enrol();
    expect(await failure(dataService.deleteUser({}))).toMatchObject({ status: 400 });
    expect(await failure(dataService.deleteUser({ token: '000000' }))).toMatchObject({ status: 400 });
    expect(await dataService.deleteUser({ token: codeFor(secret) })).toEqual({ message: 'User account deleted successfully' });
    expect(await failure(dataService.login({ email: 'alice', password: 'correct-horse' }))).toMatchObject({ status: 403 });

    resetClient(base);
    await logIn('bob');
    expect(await dataService.deleteUser({})).toEqual({ message: 'User account deleted successfully' });
  });
});

describe("the admin's verbs, seen by the client", () => {
  beforeEach(() => listen());

  test('after ctl user sign_out the next call fails, and so does the refresh: the client is sent to /login', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    expect((await server.ctl(['user', 'sign_out', 'alice'])).stdout).toContain('Revoked 2 tokens (access 1, refresh 1, authorization 0).');
    expect(await failure(dataService.getUser())).toMatchObject({ status: 401 });
    expect(events.loginRedirects).toHaveLength(1);
    expect(await failure(request.refreshToken())).toMatchObject({ status: 401 });
  });

  test('after ctl user deactivate the login is refused', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    expect((await server.ctl(['user', 'deactivate', 'alice'])).code).toBe(0);
    expect(await failure(request.refreshToken())).toMatchObject({ status: 401 });
    expect(await failure(dataService.login({ email: 'alice@example.com', password: 'correct-horse' }))).toEqual({
      status: 403,
      body: { error: 'Forbidden', message: 'This account has been deactivated' },
    });
  });

  test('ctl user show counts the live refresh tokens: one per signed-in browser, rotation keeps it one', async () => {
    await addUser(server, { nickname: 'alice' });
    const count = async () => JSON.parse((await server.ctl(['user', 'show', 'alice', '--json'])).stdout).counts;
    await logIn('alice');
    expect(await count()).toMatchObject({ activeSessions: 2, refreshTokens: 1 });
    setTokenHeader((await request.refreshToken())!.token);
    expect(await count()).toMatchObject({ activeSessions: 2, refreshTokens: 1 });
    await server.ctl(['user', 'rm', 'alice', '-y']);
    expect(await count()).toMatchObject({ activeSessions: 0, refreshTokens: 0 });
  });
});

describe('refresh-token rotation and reuse', () => {
  beforeEach(() => listen());

  test('a spent refresh token presented again (a stolen copy) revokes the whole family: the user’s token and cookie die too', async () => {
    await addUser(server, { nickname: 'alice' });
    await logIn('alice');
    const spent = await refreshCookie();
    const rotated = await request.refreshToken();
    setTokenHeader(rotated!.token);
    expect(await refreshCookie()).not.toBe(spent);
    const thief = await fetch(`${base}/api/auth/refresh`, { method: 'POST', headers: { cookie: `refreshToken=${spent}` } });
    expect(thief.status).toBe(401);
    expect(await failure(dataService.getUser())).toMatchObject({ status: 401 });
    expect(await failure(request.refreshToken())).toMatchObject({ status: 401 });
    const audit = await server.ctl(['audit', 'list', '--json']);
    expect(JSON.parse(audit.stdout).map((r: { verb: string }) => r.verb)).toContain('refresh_reuse');
  });

  test('each refresh rotates: the previous access token stops, the new one works', async () => {
    await addUser(server, { nickname: 'alice' });
    const first = (await logIn('alice')).token!;
    const next = (await request.refreshToken())!.token;
    const me = (token: string) => fetch(`${base}/api/user`, { headers: { authorization: `Bearer ${token}` } });
    expect((await me(first)).status).toBe(401);
    expect((await me(next)).status).toBe(200);
  });
});
