import { useSlapd, type Slapd } from '../../helpers/slapd';
import { addUser, useTestServer, type TestServer } from '../helpers';

/**
 * `POST /api/auth/login` while LDAP is on, over real HTTP to a listening server and a real slapd
 * on loopback (SECURITY.md, issue 16 rows).
 */
let server: TestServer;
let slapd: Slapd;
let base: string;
const control = useTestServer((s) => (server = s));
useSlapd((s) => (slapd = s), { tls: true });

async function listen(env: Record<string, string> = {}): Promise<void> {
  await control.restart({ ...slapd.env, ...env });
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
}

interface Body {
  readonly token?: string;
  readonly message?: string;
  readonly user?: Record<string, unknown>;
}

async function post(url: string, payload: object, headers: Record<string, string> = {}): Promise<{ status: number; body: Body }> {
  const res = await fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(payload) });
  return { status: res.status, body: (await res.json()) as Body };
}

const login = (who: string, password: string) => post('/api/auth/login', { login: who, password });

describe('LDAP login through POST /api/auth/login', () => {
  beforeEach(() => listen());

  test('a directory user logs in: the account is made just in time, admin from the group, and the token works', async () => {
    const res = await login('alice', 'alice-pass');
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ username: 'alice', email: 'alice@example.org', name: 'Alice Liddell', role: 'ADMIN' });
    const me = await fetch(`${base}/api/user`, { headers: { authorization: `Bearer ${res.body.token}` } });
    expect(me.status).toBe(200);
    const row = await server.withDb((db) =>
      db.selectFrom('users').select(['provider', 'password_hash']).where('nickname', '=', 'alice').executeTakeFirstOrThrow(),
    );
    expect(row).toEqual({ provider: 'ldap', password_hash: null });
  });

  test('local passwords stop working while LDAP is on', async () => {
    await addUser(server, { nickname: 'dora' }, 'correct-horse');
    expect((await login('dora', 'correct-horse')).status).toBe(401);
  });

  test('attack: filter injection in the login finds nobody (401), whoever the password belongs to', async () => {
    for (const who of ['*', 'al*', '*)(uid=*', 'alice)(|(uid=*']) {
      const res = await login(who, 'alice-pass');
      expect([who, res.status, res.body.message]).toEqual([who, 401, 'Invalid login or password']);
    }
  });

  test('attack: an empty password is refused before the directory sees it', async () => {
    expect((await login('alice', '')).status).toBe(400);
  });

  test('attack: a deactivated account is refused (403) although the directory accepts its password', async () => {
    expect((await login('bob', 'bob-pass')).status).toBe(200);
    await server.withDb((db) => db.updateTable('users').set({ active: false }).where('nickname', '=', 'bob').execute());
    const res = await login('bob', 'bob-pass');
    expect([res.status, res.body.message]).toEqual([403, 'This account has been deactivated']);
  });

  test('registration is closed while SSO is on: the API is 403, the invite page says why', async () => {
    const res = await post('/api/auth/register', { email: 'new@example.org', password: 'correct-horse-battery' });
    expect([res.status, res.body.message]).toEqual([403, 'Registration is closed: accounts are created at the first sign-in through single sign-on (ldap)']);
    const page = await fetch(`${base}/registration/${'x'.repeat(43)}`);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('accounts are created at the first sign-in through single sign-on (ldap)');
  });

  test('a directory that cannot be reached is a 503, with no stack or setting in the message', async () => {
    await listen({ CTL_LDAP_URL: 'ldap://127.0.0.1:1' });
    const res = await login('alice', 'alice-pass');
    expect(res.status).toBe(503);
    expect(JSON.stringify(res.body)).not.toContain('root-secret');
  });

  test('StartTLS: a directory user logs in; a certificate the CA did not sign is a one-line 503', async () => {
    await listen({ CTL_LDAP_STARTTLS: 'true', CTL_LDAP_TLS_CA_FILE: slapd.caFile! });
    expect((await login('alice', 'alice-pass')).status).toBe(200);
    await listen({ CTL_LDAP_STARTTLS: 'true', CTL_LDAP_TLS_CA_FILE: slapd.strangerCaFile! });
    const res = await login('alice', 'alice-pass');
    expect([res.status, res.body.message]).toEqual([
      503,
      'StartTLS with the LDAP directory failed, so no password was sent: self-signed certificate in certificate chain',
    ]);
  });
});

describe('break-glass: CTL_SSO_LOCAL_ADMIN_LOGIN', () => {
  test('off (the default): a local administrator is refused too', async () => {
    await listen();
    await addUser(server, { nickname: 'root', admin: true }, 'correct-horse');
    expect((await login('root', 'correct-horse')).status).toBe(401);
  });

  test('on: a local administrator logs in with their password even with the directory down; a local non-admin still cannot', async () => {
    await listen({ CTL_SSO_LOCAL_ADMIN_LOGIN: 'true', CTL_LDAP_URL: 'ldap://127.0.0.1:1' });
    await addUser(server, { nickname: 'root', admin: true }, 'correct-horse');
    await addUser(server, { nickname: 'dora' }, 'correct-horse');
    expect((await login('root', 'correct-horse')).status).toBe(200);
    expect((await login('root', 'wrong-horse')).status).toBe(401);
    expect((await login('dora', 'correct-horse')).status).toBe(503);
  });
});
