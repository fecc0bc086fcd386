import { createHash } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../helpers/backend';
import { runCtl } from '../../helpers/cli';
import { browse, CookieJar, freePort, startCtlServe, startOidcProvider } from '../../helpers/oidc';

/**
 * OpenID Connect end to end, over real HTTP on loopback: the real `bin/ctl serve` (openid-client
 * is ESM-only, which jest's module system cannot load, so the relying party runs as the real
 * process) against a real OpenID provider (oidc-provider) in its own process.
 */
const CLIENT_ID = 'userctl';
const CLIENT_SECRET = 'oidc-client-secret-0123456789';

let tdb: TestDatabase;
let idp: Awaited<ReturnType<typeof startOidcProvider>>;
let ctl: Awaited<ReturnType<typeof startCtlServe>>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  const port = await freePort();
  idp = await startOidcProvider(CLIENT_ID, CLIENT_SECRET, `http://127.0.0.1:${port}/api/auth/oidc/callback`);
  ctl = await startCtlServe(tdb, port, {
    CTL_OIDC_ISSUER: idp.issuer,
    CTL_OIDC_CLIENT_ID: CLIENT_ID,
    CTL_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    CTL_OIDC_ADMIN_CLAIM: 'groups',
    CTL_OIDC_ADMIN_VALUE: 'admins',
    // The test is the proxy in front: it says which client each request is from (X-Forwarded-For).
    CTL_TRUST_PROXY: '1',
  });
}, 60000);
afterAll(async () => {
  await ctl?.stop();
  await idp?.stop();
  await tdb?.destroy();
});

/** Runs the browser's part up to the provider's redirect back: the callback URL, not yet visited. */
async function authorize(account: string, jar: CookieJar, headers: Record<string, string> = {}): Promise<string> {
  const start = await browse(jar, `${ctl.base}/api/auth/oidc/login`, headers);
  expect(start.status).toBe(302);
  let location = start.headers.get('location')!;
  for (let hop = 0; hop < 10; hop++) {
    if (location.startsWith(`${ctl.base}/`)) return location;
    const url = new URL(location, idp.issuer);
    if (/^\/interaction\/[\w-]+$/.test(url.pathname)) url.pathname += '/login';
    if (url.pathname.endsWith('/login')) url.search = `?account=${account}`;
    const res = await browse(jar, url.href);
    expect([url.pathname, res.status >= 300 && res.status < 400]).toEqual([url.pathname, true]);
    location = res.headers.get('location')!;
  }
  throw new Error('the provider never sent the browser back');
}

interface Answer {
  readonly status: number;
  readonly body: { token?: string; message?: string; user?: Record<string, unknown> };
}

async function callback(jar: CookieJar, url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await browse(jar, url, headers);
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

const signIn = async (account: string, jar = new CookieJar(), headers: Record<string, string> = {}) =>
  callback(jar, await authorize(account, jar, headers), headers);

function setClaims(id: string, claims: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const onData = (d: Buffer) => {
      if (d.toString().includes(`ok ${id}`)) {
        idp.child.stdout.off('data', onData);
        resolve();
      }
    };
    idp.child.stdout.on('data', onData);
    idp.child.stdin.write(`${JSON.stringify({ id, claims })}\n`);
  });
}

const me = (token: string) => fetch(`${ctl.base}/api/user`, { headers: { authorization: `Bearer ${token}` } });
const showJson = async (who: string) => JSON.parse((await runCtl(tdb, ['user', 'show', who, '--json'])).stdout) as Record<string, unknown>;

describe('OpenID Connect sign-in against oidc-provider', () => {
  test('a first login makes the account just in time from the claims, admin from the groups claim; the session works', async () => {
    const res = await signIn('alice');
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ username: 'alice', email: 'alice@example.org', name: 'Alice Liddell', role: 'ADMIN', emailVerified: true });
    expect((await me(res.body.token!)).status).toBe(200);
    expect(await showJson('alice')).toMatchObject({ provider: 'oidc', admin: true, confirmed: true });
    const list = await runCtl(tdb, ['user', 'list', '--provider', 'oidc', '--format', 'ndjson']);
    expect(
      list.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { nickname: string }).nickname),
    ).toEqual(['alice']);
  });

  test('the admin role is revoked and granted again through the provider at the next login', async () => {
    // Another admin, so the revoke does not take the last one (that is refused: identity.test.ts).
    expect((await runCtl(tdb, ['user', 'new', 'root', 'root@example.org', '--admin', '-y'])).code).toBe(0);
    await setClaims('alice', { email: 'alice@example.org', email_verified: true, name: 'Alice Liddell', preferred_username: 'alice', groups: ['staff'] });
    expect((await signIn('alice')).body.user).toMatchObject({ username: 'alice', role: 'USER' });
    await setClaims('alice', { email: 'alice@example.org', email_verified: true, name: 'Alice Liddell', preferred_username: 'alice', groups: ['admins'] });
    expect((await signIn('alice')).body.user).toMatchObject({ username: 'alice', role: 'ADMIN' });
  });

  test('attack: a callback whose state is not this browser’s flow (login CSRF, a forged or swapped answer) is refused', async () => {
    const jar = new CookieJar();
    const url = await authorize('bob', jar);
    const forged = new URL(url);
    forged.searchParams.set('state', 'A'.repeat(32));
    const wrong = await callback(jar, forged.href);
    expect([wrong.status, wrong.body.message]).toEqual([401, expect.stringMatching(/state/) as unknown]);
    const victim = new CookieJar();
    expect((await callback(victim, url)).status).toBe(401);
    expect((await runCtl(tdb, ['user', 'show', 'bob'])).code).toBe(3);
  });

  test('attack: an ID token whose nonce is not the flow’s is refused; so is a wrong PKCE verifier', async () => {
    for (const field of [1, 2]) {
      const jar = new CookieJar();
      const url = await authorize('bob', jar);
      const flow = JSON.parse(Buffer.from(jar.get('ctl_oidc')!, 'base64url').toString()) as string[];
      flow[field] = 'Z'.repeat(43);
      jar.set('ctl_oidc', Buffer.from(JSON.stringify(flow)).toString('base64url'));
      const res = await callback(jar, url);
      expect([field, res.status, res.body.message]).toEqual([field, 401, expect.stringMatching(field === 1 ? /nonce/ : /invalid_grant|verif/) as unknown]);
    }
    expect((await runCtl(tdb, ['user', 'show', 'bob'])).code).toBe(3);
  });

  test('attack: a code issued to another client of the same provider, injected into our callback with our state, is refused', async () => {
    const jar = new CookieJar();
    const ours = new URL(await authorize('bob', jar));
    const [state, , verifier] = JSON.parse(Buffer.from(jar.get('ctl_oidc')!, 'base64url').toString()) as string[];
    // The attacker logs in to the other application, with our PKCE challenge so only the client differs.
    const other = new CookieJar();
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const params = new URLSearchParams({
      client_id: 'other-app',
      redirect_uri: 'http://127.0.0.1:9/other-app/callback',
      response_type: 'code',
      scope: 'openid email',
      state: 'other-state-0123456789',
      nonce: 'other-nonce-0123456789',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    let location = (await browse(other, `${idp.issuer}/auth?${params}`)).headers.get('location')!;
    for (let hop = 0; hop < 10 && !location.startsWith('http://127.0.0.1:9/'); hop++) {
      const url = new URL(location, idp.issuer);
      if (/^\/interaction\/[\w-]+$/.test(url.pathname)) {
        url.pathname += '/login';
        url.search = '?account=mallory';
      }
      location = (await browse(other, url.href)).headers.get('location')!;
    }
    const code = new URL(location).searchParams.get('code')!;
    expect(code).toBeTruthy();
    ours.searchParams.set('code', code);
    expect(ours.searchParams.get('state')).toBe(state);
    const res = await callback(jar, ours.href);
    expect([res.status, res.body.message]).toEqual([401, expect.stringMatching(/invalid_grant/) as unknown]);
    expect((await runCtl(tdb, ['user', 'show', 'mallory'])).code).toBe(3);
  });

  test('attack: the answer cannot be replayed: the flow cookie is spent, and the code is single-use', async () => {
    const jar = new CookieJar();
    const url = await authorize('bob', jar);
    const cookie = jar.get('ctl_oidc')!;
    expect((await callback(jar, url)).status).toBe(200);
    expect(jar.get('ctl_oidc')).toBeUndefined();
    expect((await callback(jar, url)).body.message).toMatch(/No OpenID Connect login is under way/);
    jar.set('ctl_oidc', cookie);
    const again = await callback(jar, url);
    expect([again.status, again.body.message]).toEqual([401, expect.stringMatching(/invalid_grant/) as unknown]);
  });

  test('attack: an unverified email equal to an existing account’s is not linked to it', async () => {
    expect((await signIn('bob')).body.user).toMatchObject({ email: 'bob@example.org' });
    const res = await signIn('mallory');
    expect([res.status, res.body.message]).toEqual([403, expect.stringMatching(/has not verified that address/) as unknown]);
  });

  test('password logins are off while OpenID Connect is on; deactivate ends an SSO session and refuses the next login', async () => {
    await runCtl(tdb, ['user', 'new', 'dora', 'dora@example.com', '-y', '--password-stdin'], { input: 'doras-password\n' });
    const password = await fetch(`${ctl.base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: 'dora', password: 'doras-password' }),
    });
    expect(password.status).toBe(403);
    const { body } = await signIn('bob');
    expect((await runCtl(tdb, ['user', 'deactivate', 'bob'])).code).toBe(0);
    expect((await me(body.token!)).status).toBe(401);
    expect(await signIn('bob')).toMatchObject({ status: 403, body: { message: 'This account has been deactivated' } });
  });
});

describe('attack: the callback as an amplifier, flooded with forged flow cookies and made-up codes', () => {
  // Behind the trusted proxy (the test), each X-Forwarded-For is one client address.
  const from = (client: string) => ({ 'x-forwarded-for': client });
  const tokenRequests = async () => ((await (await fetch(`${idp.issuer}/test/token-requests`)).json()) as { count: number }).count;
  const LIMIT = 20; // CTL_LOGIN_MAX_FAILURES_PER_ADDRESS's default, in CTL_LOGIN_WINDOW (15m)
  const REFUSED = { error: 'Too many requests', message: 'Too many single sign-on attempts from this address; try again later' };

  /** A callback as an attacker makes it: a flow cookie of its own (it passes the state check) and a code the provider never issued. */
  async function forged(base: string, client: string, i: number): Promise<Answer & { readonly retryAfter: string | null }> {
    const [state, nonce, verifier] = ['state', 'nonce', 'verifier'].map((part) => `forged-${part}-${i}-`.padEnd(48, 'x'));
    const cookie = Buffer.from(JSON.stringify([state, nonce, verifier])).toString('base64url');
    const query = new URLSearchParams({ code: `made-up-code-${i}`, state, iss: idp.issuer });
    const res = await fetch(`${base}/api/auth/oidc/callback?${query}`, { redirect: 'manual', headers: { cookie: `ctl_oidc=${cookie}`, ...from(client) } });
    const text = await res.text();
    expect(text).not.toContain('\n');
    return { status: res.status, body: JSON.parse(text) as Answer['body'], retryAfter: res.headers.get('retry-after') };
  }

  // On PostgreSQL, a second instance on the same database (as behind a load balancer) shares the
  // count; the embedded database is one process's at a time, so there the flood goes to one.
  let second: Awaited<ReturnType<typeof startCtlServe>> | undefined;
  const instances = () => [ctl.base, ...(second ? [second.base] : [])];
  beforeAll(async () => {
    if (tdb.backend !== 'postgres') return;
    second = await startCtlServe(tdb, await freePort(), {
      CTL_OIDC_ISSUER: idp.issuer,
      CTL_OIDC_CLIENT_ID: CLIENT_ID,
      CTL_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      CTL_TRUST_PROXY: '1',
    });
  }, 60000);
  afterAll(() => second?.stop());

  test('30 at once from one address (over two instances on PostgreSQL): 20 reach the token endpoint (401), 10 are 429 with Retry-After and cost the provider nothing; other addresses still sign in', async () => {
    const before = await tokenRequests();
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => forged(instances()[i % instances().length], '203.0.113.10', i)));
    expect(tally(answers.map((a) => a.status))).toEqual({ 401: LIMIT, 429: 30 - LIMIT });
    for (const a of answers.filter((x) => x.status === 401)) expect(a.body.message).toMatch(/invalid_grant/);
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(a.body).toEqual(REFUSED);
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(a.retryAfter)).toBeLessThanOrEqual(15 * 60);
    }
    expect((await tokenRequests()) - before).toBe(LIMIT);
    // Another client (behind the same proxy) is another address: not locked out.
    expect(await signIn('alice', new CookieJar(), from('203.0.113.11'))).toMatchObject({ status: 200, body: { user: { username: 'alice' } } });
    // The flooded address itself is refused before its code is redeemed, a genuine one too.
    const during = await tokenRequests();
    const jar = new CookieJar();
    const genuine = await callback(jar, await authorize('alice', jar, from('203.0.113.10')), from('203.0.113.10'));
    expect([genuine.status, genuine.body]).toEqual([429, REFUSED]);
    expect(await tokenRequests()).toBe(during);
  });

  test('a sign-in forgives its address’s failures (people behind one NAT): 19 failures, a sign-in, then 20 more failures before the 429', async () => {
    const office = '203.0.113.20';
    // Callbacks without a flow cookie (a spent or expired one: a second click, a stale tab) ask
    // the provider nothing and are not counted.
    const before = await tokenRequests();
    for (let i = 0; i < LIMIT + 5; i++) {
      const stale = await callback(new CookieJar(), `${ctl.base}/api/auth/oidc/callback?code=made-up&state=whatever`, from(office));
      expect([i, stale.status, stale.body.message]).toEqual([i, 401, expect.stringMatching(/No OpenID Connect login is under way/) as unknown]);
    }
    expect(await tokenRequests()).toBe(before);
    const first = await Promise.all(Array.from({ length: LIMIT - 1 }, (_, i) => forged(ctl.base, office, 100 + i)));
    expect(tally(first.map((a) => a.status))).toEqual({ 401: LIMIT - 1 });
    expect(await signIn('alice', new CookieJar(), from(office))).toMatchObject({ status: 200, body: { user: { username: 'alice' } } });
    const after = await Promise.all(Array.from({ length: LIMIT + 1 }, (_, i) => forged(ctl.base, office, 200 + i)));
    expect(tally(after.map((a) => a.status))).toEqual({ 401: LIMIT, 429: 1 });
  });
});

function tally(statuses: readonly number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}
