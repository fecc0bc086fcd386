import { useSlapd, type Slapd } from '../../helpers/slapd';
import { useTestServer, type TestServer } from '../helpers';
import { ConsoleClient } from './helpers';

/**
 * The console's sign-in form while LDAP is on (issue 16): the directory proves the password and
 * its admin group says who gets in, as for `POST /api/auth/login`. A real slapd on loopback.
 */
let server: TestServer;
let slapd: Slapd;
const control = useTestServer((s) => (server = s));
useSlapd((s) => (slapd = s), { tls: true });

const liveAccessTokens = () =>
  server.withDb(async (db) => db.selectFrom('tokens').select('id').where('kind', '=', 'access').where('revoked_at', 'is', null).execute());

describe('console sign-in as a directory user', () => {
  beforeEach(() => control.restart(slapd.env));

  test('a member of the admin group signs in with the directory password and reaches /admin/users', async () => {
    const client = new ConsoleClient(server);
    const res = await client.signIn('alice', 'alice-pass');
    expect([res.statusCode, res.headers.location]).toEqual([303, '/admin/users']);
    const page = await client.get('/admin/users');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('alice@example.org');
    const row = await server.withDb((db) =>
      db.selectFrom('users').select(['admin', 'provider', 'password_hash']).where('nickname', '=', 'alice').executeTakeFirstOrThrow(),
    );
    expect(row).toEqual({ admin: true, provider: 'ldap', password_hash: null });
  });

  test("a directory user outside the admin group gets the console's 403 page, and the session it opened ends at once", async () => {
    const client = new ConsoleClient(server);
    const res = await client.signIn('bob', 'bob-pass');
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('The console is for administrators only.');
    expect(client.cookies.ctl_console).toBeUndefined();
    expect((await client.get('/admin/users')).headers.location).toBe('/admin/login');
    expect(await liveAccessTokens()).toEqual([]);
  });

  test('StartTLS with a certificate the CA did not sign: a 503 page saying so, and no session', async () => {
    await control.restart({ ...slapd.env, CTL_LDAP_STARTTLS: 'true', CTL_LDAP_TLS_CA_FILE: slapd.strangerCaFile! });
    const client = new ConsoleClient(server);
    const res = await client.signIn('alice', 'alice-pass');
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('StartTLS with the LDAP directory failed, so no password was sent: self-signed certificate in certificate chain');
    expect(client.cookies.ctl_console).toBeUndefined();
  });
});
