import { createSamlIdp, type SamlIdp } from '../../helpers/saml-idp';
import { addUser, useTestServer, type TestServer } from '../helpers';

/**
 * SAML 2.0 through `ctl serve`'s routes over real HTTP on loopback (node-saml is CommonJS, so the
 * app runs in-process here), with a samlify IdP signing the responses.
 */
let server: TestServer;
let base: string;
let idp: SamlIdp;
const control = useTestServer((s) => (server = s));

beforeAll(() => (idp = createSamlIdp()));
afterAll(() => idp.remove());

beforeEach(async () => {
  await control.restart({
    APP_URL: 'http://ctl.test',
    CTL_SAML_ENTRY_POINT: 'http://127.0.0.1:9/sso',
    CTL_SAML_IDP_CERT_FILE: idp.certFile,
    CTL_SAML_IDP_ISSUER: idp.entityId,
  });
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
});

const metadata = async () => (await fetch(`${base}/api/auth/saml/metadata`)).text();

/** The IdP's auto-submitted form, as a browser sends it from the IdP's origin. */
async function postResponse(response: string): Promise<{ status: number; body: { token?: string; message?: string; user?: Record<string, unknown> } }> {
  const res = await fetch(`${base}/api/auth/saml/callback`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://idp.example.org', 'sec-fetch-site': 'cross-site' },
    body: new URLSearchParams({ SAMLResponse: response, RelayState: '' }).toString(),
  });
  return { status: res.status, body: (await res.json()) as never };
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
