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
  });
}, 60000);
afterAll(async () => {
  await ctl?.stop();
  await idp?.stop();
  await tdb?.destroy();
});

/** Runs the browser's part up to the provider's redirect back: the callback URL, not yet visited. */
async function authorize(account: string, jar: CookieJar): Promise<string> {
  const start = await browse(jar, `${ctl.base}/api/auth/oidc/login`);
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

async function callback(jar: CookieJar, url: string): Promise<Answer> {
  const res = await browse(jar, url);
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

const signIn = async (account: string, jar = new CookieJar()) => callback(jar, await authorize(account, jar));

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
