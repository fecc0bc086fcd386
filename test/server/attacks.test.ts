import bcrypt from 'bcryptjs';
import { totpCode } from '../../lib/auth/mfa';
import { addUser, bearer, loginAs, useTestServer, type TestServer } from './helpers';

/**
 * Issue 13's attacks on login, performed against a real `ctl serve` app listening on 127.0.0.1
 * with real HTTP requests sent at the same time (SECURITY.md names each defence and this file).
 */
let server: TestServer;
let base: string;
const control = useTestServer((s) => (server = s));

async function listen(env: Record<string, string> = {}): Promise<void> {
  await control.restart(env);
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
}

async function post(url: string, payload: object, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(payload) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const login = (payload: object) => post('/api/auth/login', payload);

/**
 * alice, whose password hash costs as much as a production one (cost 10, not the tests' 4): the
 * guesses then overlap in time the way they do against a real deployment.
 */
async function addAlice(): Promise<number> {
  const id = await addUser(server, { nickname: 'alice' });
  const hash = await bcrypt.hash('correct-horse', 10);
  await server.withDb((db) => db.updateTable('users').set({ password_hash: hash }).where('id', '=', id).execute());
  return id;
}

/** How many of each status the answers had, e.g. { 401: 5, 429: 11 }. */
function tally(answers: readonly { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of answers) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe('parallel password guessing (issue 13, finding 1)', () => {
  beforeEach(() => listen());

  test('16 simultaneous wrong guesses at a fresh account: 5 are checked, 11 refused, and the right password then is refused too', async () => {
    await addAlice();
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => login({ login: 'alice', password: `wrong-horse-${i}` })));
    expect(tally(answers)).toEqual({ 401: 5, 429: 11 });
    expect((await login({ login: 'alice', password: 'correct-horse' })).status).toBe(429);
  });

  test('16 simultaneous guesses with the right one last: at most 5 are checked, so it gets in only if it was among them', async () => {
    await addAlice();
    const passwords = [...Array.from({ length: 15 }, (_, i) => `wrong-horse-${i}`), 'correct-horse'];
    const answers = await Promise.all(passwords.map((password) => login({ login: 'alice', password })));
    const counts = tally(answers);
    expect((counts[401] ?? 0) + (counts[200] ?? 0)).toBeLessThanOrEqual(5);
    expect(counts[429]).toBeGreaterThanOrEqual(11);
  });

  test('25 simultaneous wrong guesses at one account: 5 checked; at 25 accounts from one address: 20 checked (the per-address limit)', async () => {
    await addAlice();
    const one = await Promise.all(Array.from({ length: 25 }, (_, i) => login({ login: 'alice', password: `wrong-horse-${i}` })));
    expect(tally(one)).toEqual({ 401: 5, 429: 20 });
    await listen();
    const many = await Promise.all(Array.from({ length: 25 }, (_, i) => login({ login: `nobody${i}`, password: 'wrong-horse' })));
    expect(tally(many)).toEqual({ 401: 20, 429: 5 });
  });

  test('a success does not wipe failures of guesses running beside it: 4 wrong, then the right one with 10 wrong at once', async () => {
    await addAlice();
    for (let i = 0; i < 4; i++) expect((await login({ login: 'alice', password: 'wrong-horse' })).status).toBe(401);
    const answers = await Promise.all([
      login({ login: 'alice', password: 'correct-horse' }),
      ...Array.from({ length: 10 }, (_, i) => login({ login: 'alice', password: `wrong-horse-${i}` })),
    ]);
    // One slot was left: the guesses beside the success get at most a fresh window of 5 once it
    // has forgiven the failures before it, never all 10 (each is counted when it starts).
    const counts = tally(answers);
    expect(counts[401] ?? 0).toBeLessThanOrEqual(5);
    expect(counts[429]).toBeGreaterThanOrEqual(5);
  });

  test('the per-account count follows the account, whatever was typed: 5 wrong as alice, then alice@example.com is refused', async () => {
    await addAlice();
    for (let i = 0; i < 5; i++) expect((await login({ login: i % 2 ? 'alice' : 'ALICE', password: 'wrong-horse' })).status).toBe(401);
    expect((await login({ login: 'alice@example.com', password: 'correct-horse' })).status).toBe(429);
    expect((await login({ login: 'Alice@Example.com', password: 'correct-horse' })).status).toBe(429);
  });

  test('20 simultaneous wrong TOTP codes with the right password: 5 are checked, the rest refused', async () => {
    await addAlice();
    const token = await loginAs(server, 'alice');
    const enabled = await post('/api/auth/2fa/enable', {}, bearer(token));
    expect(enabled.status).toBe(200);
    const secret = enabled.body.secret as string;
    expect((await post('/api/auth/2fa/confirm', { token: totpCode(secret, server.clock) }, bearer(token))).status).toBe(200);
    server.clock = new Date(server.clock.getTime() + 30e3);
    const right = totpCode(secret, server.clock);
    const wrong = Array.from({ length: 20 }, (_, i) => String((Number(right) + 1 + i) % 1e6).padStart(6, '0'));
    const answers = await Promise.all(wrong.map((totp) => login({ login: 'alice', password: 'correct-horse', totp })));
    expect(tally(answers)).toEqual({ 401: 5, 429: 15 });
    expect((await login({ login: 'alice', password: 'correct-horse', totp: right })).status).toBe(429);
  });
});

describe('timing (issue 13, finding 3)', () => {
  /** The median time of `tries` sequential logins, in milliseconds. */
  async function medianMs(payload: object, tries = 7): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < tries; i++) {
      const started = process.hrtime.bigint();
      expect((await login(payload)).status).toBe(401);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return times.sort((a, b) => a - b)[Math.floor(tries / 2)];
  }

  test('a wrong password for an account without one costs a bcrypt at the configured cost, as for an account with one', async () => {
    await listen({ CTL_BCRYPT_COST: '8', CTL_LOGIN_MAX_FAILURES: '100', CTL_LOGIN_MAX_FAILURES_PER_ADDRESS: '100' });
    const id = await addUser(server, { nickname: 'alice' });
    const hash = await bcrypt.hash('correct-horse', 8);
    await server.withDb((db) => db.updateTable('users').set({ password_hash: hash }).where('id', '=', id).execute());
    await addUser(server, { nickname: 'nopass' }, null);
    await login({ login: 'nobody', password: 'warm-up-horse' }); // the dummy hash is made once, on first use
    const normal = await medianMs({ login: 'alice', password: 'wrong-horse' });
    const passwordless = await medianMs({ login: 'nopass', password: 'wrong-horse' });
    // A generous bound: without the fix the password-less account answered ~10 times faster.
    expect(passwordless).toBeGreaterThanOrEqual(normal / 2);
  });
});

describe('long passwords (issue 13, also)', () => {
  beforeEach(() => listen());

  test('a password over 72 bytes is refused at login, though its first 72 bytes are the password: bcrypt would compare only those', async () => {
    const password = 'p'.repeat(70) + 'é'; // 72 bytes in UTF-8, the longest `new` accepts
    expect(Buffer.byteLength(password, 'utf8')).toBe(72);
    await addUser(server, { nickname: 'alice' }, password);
    expect((await login({ login: 'alice', password: `${password}x` })).status).toBe(401);
    expect((await login({ login: 'alice', password: `${password}${'y'.repeat(100)}` })).status).toBe(401);
    expect((await login({ login: 'alice', password })).status).toBe(200);
  });
});

describe('deep JSON (issue 13, finding 10)', () => {
  beforeEach(() => listen());

  test('8,000-deep JSON in PUT /api/user/settings is 400 naming the bound, not a 500; 32 levels still pass', async () => {
    await addUser(server, { nickname: 'alice' });
    const token = await loginAs(server, 'alice');
    const put = async (body: string) => {
      const res = await fetch(`${base}/api/user/settings`, { method: 'PUT', headers: { 'content-type': 'application/json', ...bearer(token) }, body });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const deep = `{"a":${'['.repeat(8000)}${']'.repeat(8000)}}`;
    expect(deep.length).toBeGreaterThan(16000);
    expect(await put(deep)).toEqual({ status: 400, body: { error: 'Bad Request', message: 'The request body nests deeper than 32 levels' } });
    expect((await put(`{"a":${'['.repeat(33)}${']'.repeat(33)}}`)).status).toBe(400);
    expect((await put(`{"a":${'['.repeat(31)}${']'.repeat(31)}}`)).status).toBe(200);
    expect((await fetch(`${base}/api/user/settings`, { headers: bearer(token) })).status).toBe(200);
  });
});
