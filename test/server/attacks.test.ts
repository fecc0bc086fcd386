import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
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
 * A POST over a socket bound to `from` (127.0.0.2, 127.0.0.3 …: on Linux all of 127/8 is the
 * loopback), so the server sees a different client address per caller, as it would per attacker.
 */
function postFrom(
  from: string,
  url: string,
  payload: object,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(payload);
    const req = http.request(
      `${base}${url}`,
      {
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const loginFrom = (from: string, payload: object) => postFrom(from, '/api/auth/login', payload);

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

/**
 * The event loop's share of a burst that tells the hash pool from the loop: with the hashing on the
 * loop it was busy 0.94–0.99 of the burst; on the pool 0.03–0.24 alone, and up to 0.54 while the
 * whole suite loaded the 2 cores (PGlite runs its database on this loop too).
 */
const LOOP_BUSY_LIMIT = 0.8;

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

describe('lock-out policy (issue 13, finding 8): a guesser cannot lock the owner out, and spread guessing stays bounded', () => {
  beforeEach(() => listen());

  test('5 wrong guesses from 127.0.0.2 stop that address for the window; the owner from 127.0.0.3, where she logged in before, gets in at once', async () => {
    await addAlice();
    expect((await loginFrom('127.0.0.3', { login: 'alice', password: 'correct-horse' })).status).toBe(200);
    const guesses = await Promise.all(Array.from({ length: 8 }, (_, i) => loginFrom('127.0.0.2', { login: 'alice', password: `wrong-horse-${i}` })));
    expect(tally(guesses)).toEqual({ 401: 5, 429: 3 });
    expect((await loginFrom('127.0.0.3', { login: 'alice', password: 'correct-horse' })).status).toBe(200);
    // The guesser's address stays stopped for the window, though the owner's success came after.
    expect((await loginFrom('127.0.0.2', { login: 'alice', password: 'correct-horse' })).status).toBe(429);
  });

  test('30 addresses guessing at once, one guess each: 5 are checked (the account back-off), the owner at her known address still gets in', async () => {
    await addAlice();
    expect((await loginFrom('127.0.0.3', { login: 'alice', password: 'correct-horse' })).status).toBe(200);
    const guesses = await Promise.all(Array.from({ length: 30 }, (_, i) => loginFrom(`127.0.1.${i + 1}`, { login: 'alice', password: `wrong-horse-${i}` })));
    expect(tally(guesses)).toEqual({ 401: 5, 429: 25 });
    expect((await loginFrom('127.0.0.3', { login: 'alice', password: 'correct-horse' })).status).toBe(200);
  });

  test('from addresses the account never used, each guess past 5 waits twice as long as the last (Retry-After 1, 2, 4 … s, at most the window); the owner there waits the same, then gets in', async () => {
    await addAlice();
    for (let i = 0; i < 5; i++) expect((await loginFrom(`127.0.2.${i + 1}`, { login: 'alice', password: 'wrong-horse' })).status).toBe(401);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const refused = await loginFrom(`127.0.3.${i + 1}`, { login: 'alice', password: 'wrong-horse' });
      expect(refused.status).toBe(429);
      waits.push(Number(refused.headers['retry-after']));
      server.clock = new Date(server.clock.getTime() + waits[i] * 1000);
      expect((await loginFrom(`127.0.3.${i + 1}`, { login: 'alice', password: 'wrong-horse' })).status).toBe(401);
    }
    expect(waits).toEqual([1, 2, 4, 8]);
    const owner = await loginFrom('127.0.0.4', { login: 'alice', password: 'correct-horse' });
    expect(owner.status).toBe(429);
    server.clock = new Date(server.clock.getTime() + Number(owner.headers['retry-after']) * 1000);
    expect((await loginFrom('127.0.0.4', { login: 'alice', password: 'correct-horse' })).status).toBe(200);
  });
});

describe('backup codes: bcrypt on the hash pool, compared before the row is locked', () => {
  // Cost 8 (~16 ms a compare, ten to a code): enough for two requests' compares to overlap and for
  // the event loop's share to tell the pool from the loop, at a quarter of production's cost 10.
  beforeEach(() => listen({ CTL_BCRYPT_COST: '8', CTL_LOGIN_MAX_FAILURES: '100' }));

  /** alice with MFA in force; her backup codes, hashed at the server's cost. */
  async function aliceWithBackupCodes(): Promise<string[]> {
    await addAlice();
    const token = await loginAs(server, 'alice');
    const enabled = await post('/api/auth/2fa/enable', {}, bearer(token));
    expect(enabled.status).toBe(200);
    const confirm = await post('/api/auth/2fa/confirm', { token: totpCode(enabled.body.secret as string, server.clock) }, bearer(token));
    expect(confirm.status).toBe(200);
    return enabled.body.backupCodes as string[];
  }

  const storedCodes = () => server.withDb(async (db) => (await db.selectFrom('users').select('mfa_backup_codes').executeTakeFirstOrThrow()).mfa_backup_codes);

  test('5 simultaneous logins with a wrong backup code (10 compares each) leave the event loop mostly idle', async () => {
    await aliceWithBackupCodes();
    const before = performance.eventLoopUtilization();
    const answers = await Promise.all(Array.from({ length: 5 }, () => login({ login: 'alice', password: 'correct-horse', totp: 'aaaaa-aaaaa' })));
    const busy = performance.eventLoopUtilization(before).utilization;
    for (const answer of answers) {
      expect(answer).toEqual({ status: 401, body: { error: 'Unauthorized', message: 'Invalid two-factor authentication code', mfaRequired: true } });
    }
    // ~0.8 s of bcrypt in all: on the event loop (bcryptjs' async API) it is busy nearly all of it.
    expect(busy).toBeLessThan(LOOP_BUSY_LIMIT);
    expect(await storedCodes()).toHaveLength(10);
  });

  test('the same backup code in two simultaneous logins works once, and is gone', async () => {
    const codes = await aliceWithBackupCodes();
    const stored = await storedCodes();
    const answers = await Promise.all([0, 1].map(() => login({ login: 'alice', password: 'correct-horse', totp: codes[2] })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 401]);
    expect(await storedCodes()).toEqual(stored.filter((_, i) => i !== 2));
  });

  test('the same backup code on two temp tokens at once (verify-temp) works once, and is gone', async () => {
    const codes = await aliceWithBackupCodes();
    const stored = await storedCodes();
    const temps = await Promise.all([0, 1].map(async () => String((await login({ email: 'alice', password: 'correct-horse' })).body.tempToken)));
    const answers = await Promise.all(temps.map((tempToken) => post('/api/auth/2fa/verify-temp', { tempToken, backupCode: codes[7] })));
    expect(answers.map((a) => [a.status, a.body.message]).sort()).toEqual([
      [200, undefined],
      [401, 'Invalid two-factor authentication code'],
    ]);
    expect(await storedCodes()).toEqual(stored.filter((_, i) => i !== 7));
  });
});

describe('trusted proxies (issue 13, finding 6): made-up X-Forwarded-For entries do not make new addresses', () => {
  // The test is the proxy (127.0.0.1): it appends the address it saw, 203.0.113.7, to whatever
  // X-Forwarded-For the client sent, as nginx's $proxy_add_x_forwarded_for does.
  const viaProxy = (madeUp: string, client = '203.0.113.7') => ({ 'x-forwarded-for': `${madeUp}, ${client}` });

  test.each([['1'], ['127.0.0.1'], ['127.0.0.0/8, ::1']])(
    'CTL_TRUST_PROXY=%s: 40 logins with rotating made-up left parts are limited like one address (20)',
    async (trust) => {
      await listen({ CTL_TRUST_PROXY: trust });
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => post('/api/auth/login', { login: `nobody${i}`, password: 'wrong-horse' }, viaProxy(`198.51.100.${i}`))),
      );
      expect(tally(answers)).toEqual({ 401: 20, 429: 20 });
      // Another client behind the same proxy is another address.
      expect((await post('/api/auth/login', { login: 'nobody', password: 'wrong-horse' }, viaProxy('198.51.100.1', '203.0.113.8'))).status).toBe(401);
    },
  );

  test('the verification-resend limit counts the same address: 12 resends with made-up left parts, 10 go through', async () => {
    await listen({ CTL_TRUST_PROXY: '1' });
    const answers: { status: number }[] = [];
    for (let i = 0; i < 12; i++) answers.push(await post('/api/user/verify/resend', { email: `person${i}@example.com` }, viaProxy(`198.51.100.${i}`)));
    expect(tally(answers)).toEqual({ 200: 10, 429: 2 });
  });
});

describe('overload (issue 13, finding 2)', () => {
  test('60 simultaneous logins from one address get no 500, leave the event loop mostly idle, and a logged-in GET /api/user answers during the burst', async () => {
    // 60 wrong passwords at cost 10 are about 4 s of bcrypt on one core (at 12, the default, 15 s).
    await listen({ CTL_BCRYPT_COST: '10', CTL_LOGIN_MAX_FAILURES_PER_ADDRESS: '1000' });
    await addAlice();
    const token = await loginAs(server, 'alice', 'correct-horse');
    await login({ login: 'nobody', password: 'warm-up-horse' }); // the dummy hash is made once, on first use
    let settled = 0;
    const before = performance.eventLoopUtilization();
    const burst = Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        post('/api/auth/login', { login: `nobody${i}`, password: 'wrong-horse' }).finally(() => {
          settled += 1;
        }),
      ),
    );
    // Five requests issued 300, 400 … 700 ms into the burst; each must be answered while logins are
    // still pending, i.e. not queued behind the hashing.
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const settledWhenAnswered = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        await sleep(300 + 100 * i);
        const res = await fetch(`${base}/api/user`, { headers: bearer(token) });
        expect(res.status).toBe(200);
        return settled;
      }),
    );
    const answers = await burst;
    const busy = performance.eventLoopUtilization(before).utilization;
    // The issue asked for the GET within 1 s; the bench's timings belong to `npm run bench`, so the
    // test checks the cause instead: bcrypt runs on the hash pool's threads, so the app's event loop
    // (this process's: the server runs in-process) was mostly idle during the burst. With the
    // hashing on it, it is busy all of it (~1.0), and a GET waits for every hash queued before it.
    expect(busy).toBeLessThan(LOOP_BUSY_LIMIT);
    expect(Math.max(...settledWhenAnswered)).toBeLessThan(60);
    const counts = tally(answers);
    expect(Object.keys(counts).filter((status) => !['401', '503'].includes(status))).toEqual([]);
    for (const answer of answers.filter((a) => a.status === 503)) {
      expect(answer.body).toEqual({ error: 'Service Unavailable', message: 'The server is busy; try again shortly' });
    }
  });
});
