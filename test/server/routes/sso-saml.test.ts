import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createKeyPair, createSamlIdp, type KeyPair, type SamlIdp } from '../../helpers/saml-idp';
import { addUser, useTestServer, type TestServer } from '../helpers';

/**
 * SAML 2.0 through `ctl serve`'s routes over real HTTP on loopback (node-saml is CommonJS, so the
 * app runs in-process here), with a samlify IdP signing the responses.
 */
let server: TestServer;
let base: string;
let idp: SamlIdp;
/** More settings for the server of the tests in one describe (set in its beforeAll). */
let extraEnv: Record<string, string> = {};
const control = useTestServer((s) => (server = s));

beforeAll(() => (idp = createSamlIdp()));
afterAll(() => idp.remove());

beforeEach(async () => {
  await control.restart({
    APP_URL: 'http://ctl.test',
    CTL_SAML_ENTRY_POINT: 'http://127.0.0.1:9/sso',
    CTL_SAML_IDP_CERT_FILE: idp.certFile,
    CTL_SAML_IDP_ISSUER: idp.entityId,
    // The test is the proxy in front: it says which client each request is from (X-Forwarded-For).
    CTL_TRUST_PROXY: '1',
    // The callbacks' limit is the password login's per-address one (defaults 20 in 15m).
    CTL_LOGIN_MAX_FAILURES_PER_ADDRESS: '5',
    CTL_LOGIN_WINDOW: '10m',
    ...extraEnv,
  });
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
});

const metadata = async () => (await fetch(`${base}/api/auth/saml/metadata`)).text();

interface Answer {
  readonly status: number;
  readonly body: { token?: string; message?: string; user?: Record<string, unknown> };
  readonly retryAfter: string | null;
}

/** The IdP's auto-submitted form, as a browser sends it from the IdP's origin (from `client`, through the proxy, when given). */
async function postResponse(response: string, client?: string): Promise<Answer> {
  const res = await fetch(`${base}/api/auth/saml/callback`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: 'https://idp.example.org',
      'sec-fetch-site': 'cross-site',
      ...(client ? { 'x-forwarded-for': client } : {}),
    },
    body: new URLSearchParams({ SAMLResponse: response, RelayState: '' }).toString(),
  });
  const text = await res.text();
  expect(text).not.toContain('\n');
  return { status: res.status, body: JSON.parse(text) as Answer['body'], retryAfter: res.headers.get('retry-after') };
}

describe('SAML routes', () => {
  test('metadata is served as SAML metadata; login redirects to the IdP with an AuthnRequest', async () => {
    const res = await fetch(`${base}/api/auth/saml/metadata`);
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/samlmetadata+xml']);
    const login = await fetch(`${base}/api/auth/saml/login`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:9\/sso\?SAMLRequest=/);
  });

  test('the IdP’s cross-site form post logs in (HTTP-POST binding); the session works; a replay is 401', async () => {
    const response = await idp.response(await metadata(), { nameId: 'carol-7', email: 'carol@example.org', uid: 'carol', name: 'Carol Danvers' });
    const res = await postResponse(response);
    expect([res.status, res.body.user]).toEqual([200, expect.objectContaining({ username: 'carol', email: 'carol@example.org' }) as unknown]);
    expect((await fetch(`${base}/api/user`, { headers: { authorization: `Bearer ${res.body.token}` } })).status).toBe(200);
    const again = await postResponse(response);
    expect([again.status, again.body.message]).toEqual([401, 'The SAML response was refused: this assertion was already used']);
  });

  test('attack: a tampered response is 401 over HTTP; a missing one is 400; local passwords are off (403)', async () => {
    const xml = Buffer.from(await idp.response(await metadata(), { nameId: 'carol-7', email: 'carol@example.org' }), 'base64').toString();
    const res = await postResponse(Buffer.from(xml.replace('>carol-7<', '>root<')).toString('base64'));
    expect(res.status).toBe(401);
    const missing = await fetch(`${base}/api/auth/saml/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'x=1',
    });
    expect(missing.status).toBe(400);
    await addUser(server, { nickname: 'dora' }, 'correct-horse');
    const password = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: 'dora', password: 'correct-horse' }),
    });
    expect(password.status).toBe(403);
  });
});

describe('SAML routes with encrypted assertions required (CTL_SAML_SP_DECRYPTION_KEY_FILE / _CERT_FILE, CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS)', () => {
  let sp: KeyPair;
  let other: KeyPair;
  const carol = { nameId: 'carol-7', email: 'carol@example.org', uid: 'carol', name: 'Carol Danvers' };
  beforeAll(() => {
    sp = createKeyPair();
    other = createKeyPair('/CN=someone-else');
    extraEnv = { CTL_SAML_SP_DECRYPTION_KEY_FILE: sp.keyFile, CTL_SAML_SP_DECRYPTION_CERT_FILE: sp.certFile, CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS: 'true' };
  });
  afterAll(() => {
    extraEnv = {};
    sp.remove();
    other.remove();
  });

  test('the metadata publishes the certificate to encrypt for; an encrypted assertion logs in over HTTP, the account made just in time', async () => {
    const published = await metadata();
    const body = fs.readFileSync(sp.certFile, 'utf8').replace(/-----[^-]+-----|\s/g, '');
    expect(published.replace(/\s/g, '')).toContain(`<KeyDescriptoruse="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate>`);
    const res = await postResponse(await idp.response(published, carol, { encrypt: 'aes256-gcm' }));
    expect([res.status, res.body.user]).toEqual([
      200,
      expect.objectContaining({ username: 'carol', email: 'carol@example.org', name: 'Carol Danvers' }) as unknown,
    ]);
    expect((await fetch(`${base}/api/user`, { headers: { authorization: `Bearer ${res.body.token}` } })).status).toBe(200);
  });

  test('a plain signed assertion is refused (401, the usual JSON), and signs no one in', async () => {
    const res = await postResponse(await idp.response(await metadata(), carol));
    expect([res.status, res.body]).toEqual([
      401,
      { error: 'Unauthorized', message: 'The SAML response was refused: its assertion is not encrypted, and encrypted assertions are required' },
    ]);
    expect(await server.withDb((db) => db.selectFrom('users').select('nickname').execute())).toEqual([]);
  });

  test('attack: an assertion encrypted for another key is a 401 like any bad response: no stack, no 500', async () => {
    // This app's metadata with another certificate in it: what an IdP holding a stale or wrong certificate encrypts for.
    const published = await metadata();
    const stale = published.replace(
      /<ds:X509Certificate>[^<]+<\/ds:X509Certificate>/,
      `<ds:X509Certificate>${fs.readFileSync(other.certFile, 'utf8').replace(/-----[^-]+-----|\s/g, '')}</ds:X509Certificate>`,
    );
    expect(stale).not.toBe(published);
    for (const encrypt of ['aes256-gcm', 'aes256-cbc'] as const) {
      const res = await postResponse(await idp.response(stale, carol, { encrypt }));
      expect([res.status, res.body]).toEqual([
        401,
        { error: 'Unauthorized', message: 'The SAML response was refused: its encrypted assertion could not be decrypted and verified' },
      ]);
    }
  });
});

describe('attack: flooding the assertion consumer with garbage and forged responses', () => {
  const LIMIT = 5; // CTL_LOGIN_MAX_FAILURES_PER_ADDRESS, in CTL_LOGIN_WINDOW (10m)
  const REFUSED = { error: 'Too many requests', message: 'Too many single sign-on attempts from this address; try again later' };
  const carol = { nameId: 'carol-7', email: 'carol@example.org', uid: 'carol' };

  /** Responses that cost a parse and a signature check each: random bytes, and signed ones edited (so their digest breaks). */
  async function badResponses(n: number): Promise<string[]> {
    const xml = Buffer.from(await idp.response(await metadata(), carol), 'base64').toString();
    return Array.from({ length: n }, (_, i) =>
      i % 2 ? Buffer.from(xml.replace('>carol-7<', `>root-${i}<`)).toString('base64') : randomBytes(3000 + i).toString('base64'),
    );
  }

  test('15 at once from one address: 5 are checked and refused (401), 10 are 429 with Retry-After; then a valid response from there is refused unread, and logs in from another address; the window ends it', async () => {
    const answers = await Promise.all((await badResponses(15)).map((r) => postResponse(r, '203.0.113.10')));
    expect(tally(answers.map((a) => a.status))).toEqual({ 401: LIMIT, 429: 15 - LIMIT });
    for (const a of answers.filter((x) => x.status === 429)) expect([a.body, a.retryAfter]).toEqual([REFUSED, String(10 * 60)]);
    const valid = await idp.response(await metadata(), carol);
    const locked = await postResponse(valid, '203.0.113.10');
    expect([locked.status, locked.body]).toEqual([429, REFUSED]);
    // Not verified, so not spent: the same response logs in from an address that is not locked out.
    expect(await postResponse(valid, '203.0.113.11')).toMatchObject({ status: 200, body: { user: { username: 'carol' } } });
    server.clock = new Date(server.clock.getTime() + 10 * 60e3 + 1000);
    expect((await postResponse((await badResponses(1))[0], '203.0.113.10')).status).toBe(401);
  });

  test('a valid login forgives its address’s failures (people behind one NAT): 4 failures, a login, then 5 more failures before the 429', async () => {
    const office = '203.0.113.20';
    expect(tally((await Promise.all((await badResponses(LIMIT - 1)).map((r) => postResponse(r, office)))).map((a) => a.status))).toEqual({ 401: LIMIT - 1 });
    expect(await postResponse(await idp.response(await metadata(), carol), office)).toMatchObject({ status: 200, body: { user: { username: 'carol' } } });
    expect(tally((await Promise.all((await badResponses(LIMIT + 1)).map((r) => postResponse(r, office)))).map((a) => a.status))).toEqual({
      401: LIMIT,
      429: 1,
    });
  });
});

function tally(statuses: readonly number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}
