import * as fs from 'node:fs';
import * as http from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { createOpenTestDatabase, createTestDatabase, type OpenTestDatabase, type TestDatabase } from '../helpers/backend';
import { holdTestDatabase } from '../helpers/in-process';
import { freePort, startCtlServe, startOidcProvider } from '../helpers/oidc';
import { createSamlIdp, type SamlIdp } from '../helpers/saml-idp';
import { startServer, type TestServer } from '../server/helpers';

/**
 * Single sign-on's redirects end to end in a real browser (Debian's chromium through
 * playwright-core): the browser carries the cookies, follows the redirects and submits the IdP's
 * form itself, cross-site, as it would in production.
 */
const CHROMIUM = '/usr/bin/chromium';
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(() => browser?.close());

interface Session {
  readonly token: string;
  readonly user: Record<string, unknown>;
}

describe('OpenID Connect in chromium (the real ctl serve and oidc-provider)', () => {
  let tdb: TestDatabase;
  let idp: Awaited<ReturnType<typeof startOidcProvider>>;
  let ctl: Awaited<ReturnType<typeof startCtlServe>>;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    const port = await freePort();
    idp = await startOidcProvider('userctl', 'browser-secret-0123456789', `http://127.0.0.1:${port}/api/auth/oidc/callback`);
    ctl = await startCtlServe(tdb, port, { CTL_OIDC_ISSUER: idp.issuer, CTL_OIDC_CLIENT_ID: 'userctl', CTL_OIDC_CLIENT_SECRET: 'browser-secret-0123456789' });
  }, 60000);
  afterAll(async () => {
    await ctl?.stop();
    await idp?.stop();
    await tdb?.destroy();
  });

  test('login → provider → back to the callback with the flow cookie: a session for the new account', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${ctl.base}/api/auth/oidc/login`);
      expect(page.url()).toMatch(new RegExp(`^${idp.issuer}/interaction/[\\w-]+$`));
      const response = await page.goto(`${page.url()}/login?account=bob`);
      expect(page.url()).toMatch(new RegExp(`^${ctl.base}/api/auth/oidc/callback\\?code=`));
      expect(response?.status()).toBe(200);
      const session = JSON.parse((await page.textContent('body'))!) as Session;
      expect(session.user).toMatchObject({ username: 'bob', email: 'bob@example.org' });
      expect((await fetch(`${ctl.base}/api/user`, { headers: { authorization: `Bearer ${session.token}` } })).status).toBe(200);
      expect((await page.context().cookies()).find((c) => c.name === 'ctl_oidc')).toBeUndefined();
    } finally {
      await page.close();
    }
  });
});

describe('SAML 2.0 in chromium (HTTP-Redirect to the IdP, its form posted back cross-site)', () => {
  let opened: OpenTestDatabase;
  let server: TestServer;
  let samlIdp: SamlIdp;
  let idpServer: http.Server;
  let base: string;

  beforeAll(async () => {
    samlIdp = createSamlIdp();
    const [appPort, idpPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${appPort}`;
    // The IdP's login page: it answers any AuthnRequest for carol with the HTTP-POST binding's self-submitting form.
    idpServer = http.createServer((req, res) => {
      void (async () => {
        const metadata = await (await fetch(`${base}/api/auth/saml/metadata`)).text();
        const response = await samlIdp.response(metadata, { nameId: 'carol-7', email: 'carol@example.org', uid: 'carol', name: 'Carol Danvers' });
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(
            `<!doctype html><form method="post" action="${base}/api/auth/saml/callback"><input type="hidden" name="SAMLResponse" value="${response}"></form><script>document.forms[0].submit()</script>`,
          );
      })();
    });
    await new Promise<void>((resolve) => idpServer.listen(idpPort, '127.0.0.1', resolve));
    opened = await createOpenTestDatabase();
    server = await startServer(holdTestDatabase(opened.tdb, opened.handle), {
      APP_URL: base,
      CTL_SAML_ENTRY_POINT: `http://127.0.0.1:${idpPort}/sso`,
      CTL_SAML_IDP_CERT_FILE: samlIdp.certFile,
    });
    await server.app.listen({ host: '127.0.0.1', port: appPort });
  });
  afterAll(async () => {
    await server?.close();
    await new Promise((resolve) => idpServer?.close(resolve));
    await opened?.handle.close();
    await opened?.tdb.destroy();
    samlIdp?.remove();
  });

  test('login → IdP → its form posts the signed response to the ACS: a session for the new account', async () => {
    const page = await browser.newPage();
    try {
      const done = page.waitForURL(`${base}/api/auth/saml/callback`);
      await page.goto(`${base}/api/auth/saml/login`);
      await done;
      await page.waitForLoadState('load');
      const session = JSON.parse((await page.textContent('body'))!) as Session;
      expect(session.user).toMatchObject({ username: 'carol', email: 'carol@example.org' });
      expect((await fetch(`${base}/api/user`, { headers: { authorization: `Bearer ${session.token}` } })).status).toBe(200);
    } finally {
      await page.close();
    }
  });
});
