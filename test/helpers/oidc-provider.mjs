// A real OpenID provider (oidc-provider, a certified implementation) for the OpenID Connect tests,
// run as its own process because it is ESM-only and jest's module system cannot load it.
// Usage: node oidc-provider.mjs <client_id> <client_secret> <redirect_uri> (plus a fixed second
// client, other-app)
// Prints `ready <issuer>` once listening on 127.0.0.1. Reads JSON lines on stdin to change an
// account's claims mid-test: {"id": "alice", "claims": {...}} (answered with `ok <id>`).
// Logging in: GET /interaction/<uid>/login?account=<id> finishes the login interaction as that
// account (there is no password form: the tests are about the relying party, not this provider).
// GET /test/token-requests answers how many requests its token endpoint has received so far
// (`{"count": n}`), so a test sees what reached the provider.
import * as http from 'node:http';
import * as readline from 'node:readline';
import Provider from 'oidc-provider';

const [clientId, clientSecret, redirectUri] = process.argv.slice(2);

const accounts = {
  alice: { email: 'alice@example.org', email_verified: true, name: 'Alice Liddell', preferred_username: 'alice', groups: ['admins', 'staff'] },
  bob: { email: 'bob@example.org', email_verified: true, name: 'Bob Builder', preferred_username: 'bob', groups: ['staff'] },
  mallory: { email: 'bob@example.org', email_verified: false, name: 'Not Bob', preferred_username: 'mallory', groups: [] },
};

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
    // Another application of the same provider, for the "code or token for another client" attacks.
    {
      client_id: 'other-app',
      client_secret: 'other-app-secret-0123456789',
      redirect_uris: ['http://127.0.0.1:9/other-app/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  async findAccount(_ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'groups'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  cookies: { keys: ['oidc-test-cookie-key'] },
  // First-party client: no consent screen; the grant covers what the tests ask for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
const callback = provider.callback();

let tokenRequests = 0;

server.on('request', async (req, res) => {
  if (req.url === '/test/token-requests') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: tokenRequests }));
    return;
  }
  if (req.url?.split('?')[0] === '/token') tokenRequests += 1;
  const match = /^\/interaction\/([\w-]+)\/login\?account=(\w+)$/.exec(req.url ?? '');
  if (match) {
    try {
      await provider.interactionFinished(req, res, { login: { accountId: match[2] } }, { mergeWithLastSubmission: false });
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
    }
    return;
  }
  if (/^\/interaction\/[\w-]+$/.test(req.url ?? '')) {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('log in');
    return;
  }
  callback(req, res);
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, claims } = JSON.parse(line);
  accounts[id] = claims;
  process.stdout.write(`ok ${id}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.stdout.write(`ready ${issuer}\n`);
