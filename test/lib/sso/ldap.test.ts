import * as net from 'node:net';
import { libContext, useOpenTestDatabase } from '../../helpers/backend';
import { ADMINS, dnOf, startSlapd, useSlapd, wireTap, type Slapd } from '../../helpers/slapd';
import { seedUser } from '../../helpers/seed-users';
import type { DbHandle } from '../../../lib/db/db';
import { connectLdap, escapeFilterValue, ldapLogin, userFilter, verifyLdapPassword } from '../../../lib/sso/ldap';
import { ssoSettings, type LdapSettings } from '../../../lib/sso/settings';
import { AccountRefusedError, LoginFailedError, LoginThrottle } from '../../../lib/auth/login';
import { UnavailableError } from '../../../lib/errors';
import { listAudit } from '../../../lib/audit/audit';
import { Attribute, Change } from 'ldapts';

let h: DbHandle;
let slapd: Slapd;
useOpenTestDatabase((_tdb, handle) => (h = handle));
useSlapd((s) => (slapd = s), { tls: true });

const ldap = (extra: Record<string, string> = {}): LdapSettings => ssoSettings({ ...slapd.env, ...extra }).ldap!;
const IDENTITY = { emailLinking: 'link' as const, updateNamesOnLogin: false, requireConfirmation: false, sessionTtlMs: 3600e3 };
const throttle = () => new LoginThrottle({ maxPerAccount: 100, maxPerAddress: 100, windowMs: 60e3 });
const loginAs = (login: string, password: string, t = throttle()) => ldapLogin(libContext(h), ldap(), IDENTITY, t, { login, password, address: '127.0.0.1' });

describe('escapeFilterValue (RFC 4515)', () => {
  test('escapes *, (, ), backslash and NUL, and leaves the rest', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\0c')).toBe('a\\5cb\\00c');
    expect(escapeFilterValue('José.o-k@x')).toBe('José.o-k@x');
    expect(userFilter('(|(uid={{username}})(mail={{username}}))', 'a*')).toBe('(|(uid=a\\2a)(mail=a\\2a))');
  });
});

describe('verifyLdapPassword against slapd', () => {
  test('bind-then-search: the right password gives the directory entry, names joined, admin from the group', async () => {
    expect(await verifyLdapPassword(ldap(), 'alice', 'alice-pass')).toEqual({
      dn: dnOf('alice'),
      uid: 'alice',
      email: 'alice@example.org',
      name: 'Alice Liddell',
      admin: true,
    });
    expect((await verifyLdapPassword(ldap(), 'bob', 'bob-pass'))?.admin).toBe(false);
  });

  test('a wrong password or an unknown login is null', async () => {
    expect(await verifyLdapPassword(ldap(), 'alice', 'bob-pass')).toBeNull();
    expect(await verifyLdapPassword(ldap(), 'nobody', 'alice-pass')).toBeNull();
  });

  test('attack: an empty password is refused before any bind (this slapd accepts it as an anonymous bind)', async () => {
    expect(await verifyLdapPassword(ldap(), 'alice', '')).toBeNull();
  });

  test('attack: filter injection finds nothing: wildcards and closing parentheses are looked up literally', async () => {
    expect(await verifyLdapPassword(ldap(), 'al*', 'alice-pass')).toBeNull();
    expect(await verifyLdapPassword(ldap(), '*', 'alice-pass')).toBeNull();
    expect(await verifyLdapPassword(ldap(), '*)(uid=*', 'alice-pass')).toBeNull();
    expect(await verifyLdapPassword(ldap(), 'alice)(|(uid=*', 'alice-pass')).toBeNull();
  });

  test('the admin attribute and value (Overleaf style) decide admin when configured', async () => {
    const byAttribute = ldap({ CTL_LDAP_ADMIN_GROUP_DN: '', CTL_LDAP_ADMIN_ATTRIBUTE: 'employeeType', CTL_LDAP_ADMIN_VALUE: 'admin' });
    expect((await verifyLdapPassword(byAttribute, 'alice', 'alice-pass'))?.admin).toBe(true);
    expect((await verifyLdapPassword(byAttribute, 'carol', 'carol-pass'))?.admin).toBe(false);
    expect((await verifyLdapPassword(ldap({ CTL_LDAP_ADMIN_GROUP_DN: '' }), 'alice', 'alice-pass'))?.admin).toBeNull();
  });

  test('a directory that cannot be reached is unavailable (503), not a wrong password', async () => {
    await expect(verifyLdapPassword(ldap({ CTL_LDAP_URL: 'ldap://127.0.0.1:1' }), 'alice', 'alice-pass')).rejects.toThrow(UnavailableError);
    await expect(verifyLdapPassword(ldap({ CTL_LDAP_BIND_PASSWORD: 'wrong' }), 'alice', 'alice-pass')).rejects.toThrow(UnavailableError);
  });
});

describe('TLS with a CA file', () => {
  test('LDAPS verifies the server against CTL_LDAP_TLS_CA_FILE', async () => {
    const ldaps = ldap({ CTL_LDAP_URL: slapd.ldapsUrl!, CTL_LDAP_TLS_CA_FILE: slapd.caFile! });
    expect((await verifyLdapPassword(ldaps, 'alice', 'alice-pass'))?.uid).toBe('alice');
    expect(await verifyLdapPassword(ldaps, 'alice', 'wrong')).toBeNull();
  });

  test('attack: a server certificate the CA did not sign is refused (no password is sent to it)', async () => {
    await expect(verifyLdapPassword(ldap({ CTL_LDAP_URL: slapd.ldapsUrl! }), 'alice', 'alice-pass')).rejects.toThrow(UnavailableError);
  });
});

describe('StartTLS (CTL_LDAP_STARTTLS=true)', () => {
  // Through a relay that keeps what the client sent: the bind passwords must never be in it in clear.
  const overTap = async (extra: Record<string, string>, use: (settings: LdapSettings, sent: () => Buffer) => Promise<void>) => {
    const tap = await wireTap(slapd.url);
    try {
      await use(ldap({ CTL_LDAP_URL: tap.url, ...extra }), tap.sent);
    } finally {
      await tap.close();
    }
  };
  const inClear = (sent: Buffer) => ['alice-pass', slapd.rootPassword].filter((secret) => sent.includes(secret));

  test('a directory user logs in over the ldap:// port upgraded to TLS, and no password crosses the wire in clear', async () => {
    await overTap({ CTL_LDAP_STARTTLS: 'true', CTL_LDAP_TLS_CA_FILE: slapd.caFile! }, async (settings, sent) => {
      expect(await verifyLdapPassword(settings, 'alice', 'alice-pass')).toMatchObject({ uid: 'alice', admin: true });
      expect(await verifyLdapPassword(settings, 'alice', 'wrong')).toBeNull();
      expect(inClear(sent())).toEqual([]);
    });
    // The same login without StartTLS, to show the relay does see a password sent in clear.
    await overTap({}, async (settings, sent) => {
      expect((await verifyLdapPassword(settings, 'alice', 'alice-pass'))?.uid).toBe('alice');
      expect(inClear(sent())).toEqual(['alice-pass', slapd.rootPassword]);
    });
  });

  test('attack: a certificate the CA did not sign fails the login closed (503), before any bind', async () => {
    // Another CA's file, and none (the system's CAs).
    for (const ca of [{ CTL_LDAP_TLS_CA_FILE: slapd.strangerCaFile! }, {} as Record<string, string>]) {
      await overTap({ CTL_LDAP_STARTTLS: 'true', ...ca }, async (settings, sent) => {
        const error = await verifyLdapPassword(settings, 'alice', 'alice-pass').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnavailableError);
        expect((error as Error).message).toBe('StartTLS with the LDAP directory failed, so no password was sent: self-signed certificate in certificate chain');
        expect(inClear(sent())).toEqual([]);
      });
    }
  });

  test("attack: a certificate for another name than the URL's host is refused", async () => {
    const byName = ldap({ CTL_LDAP_URL: slapd.url.replace('127.0.0.1', 'localhost'), CTL_LDAP_STARTTLS: 'true', CTL_LDAP_TLS_CA_FILE: slapd.caFile! });
    await expect(verifyLdapPassword(byName, 'alice', 'alice-pass')).rejects.toThrow(
      /^StartTLS with the LDAP directory failed, so no password was sent: Hostname\/IP does not match certificate's altnames: Host: localhost\./,
    );
  });

  test('attack: a server that refuses StartTLS (as a relay stripping it would) fails the login closed, before any bind', async () => {
    const plain = await startSlapd();
    const tap = await wireTap(plain.url);
    try {
      const settings = ldap({ CTL_LDAP_URL: tap.url, CTL_LDAP_STARTTLS: 'true' });
      await expect(verifyLdapPassword(settings, 'alice', 'alice-pass')).rejects.toThrow(
        /^StartTLS with the LDAP directory failed, so no password was sent: unsupported extended operation/,
      );
      expect(inClear(tap.sent())).toEqual([]);
    } finally {
      await tap.close();
      await plain.stop();
    }
  });

  describe('a server that accepts StartTLS and then never shakes hands', () => {
    // Answers the StartTLS request with success (an ExtendedResponse, resultCode 0), then stays silent.
    const sockets: net.Socket[] = [];
    let stall: net.Server;
    beforeEach(async () => {
      stall = net.createServer((socket) => {
        sockets.push(socket);
        socket.once('data', (request) => {
          // The request's messageID: the INTEGER after the LDAPMessage SEQUENCE's tag and length.
          const at = 2 + (request[1] & 0x80 ? request[1] & 0x7f : 0);
          const id = request.subarray(at, at + 2 + request[at + 1]);
          const op = Buffer.from([0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]);
          socket.write(Buffer.concat([Buffer.from([0x30, id.length + op.length]), id, op]));
        });
      });
      await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    });
    afterEach(async () => {
      for (const socket of sockets.splice(0)) socket.destroy();
      await new Promise((resolve) => stall.close(resolve));
    });

    test('attack: the login fails closed within the timeout, and the connection is closed', async () => {
      const { port } = stall.address() as net.AddressInfo;
      const settings = { ...ldap({ CTL_LDAP_STARTTLS: 'true', CTL_LDAP_TLS_CA_FILE: slapd.caFile! }), url: `ldap://127.0.0.1:${port}`, timeoutMs: 300 };
      await expect(verifyLdapPassword(settings, 'alice', 'alice-pass')).rejects.toThrow(
        'StartTLS with the LDAP directory failed, so no password was sent: the TLS handshake took over 300 ms',
      );
      expect(sockets.length).toBe(1);
      if (!sockets[0].destroyed) await new Promise((resolve) => sockets[0].once('close', resolve));
    }, 10e3);
  });

  test('once upgraded, the client never connects again, so never in clear', async () => {
    await overTap({ CTL_LDAP_STARTTLS: 'true', CTL_LDAP_TLS_CA_FILE: slapd.caFile! }, async (settings, sent) => {
      const client = await connectLdap(settings);
      await client.unbind();
      // ldapts would open a new, plain connection for this bind.
      await expect(client.bind(dnOf('alice'), 'alice-pass')).rejects.toThrow('The connection upgraded by StartTLS is gone; not connecting again in clear text');
      expect(inClear(sent())).toEqual([]);
    });
  });
});

describe('ldapLogin', () => {
  test('creates the account just in time, grants admin from the group, and revokes it once the directory does', async () => {
    // Another admin, so the revoke does not take the last one (that is refused: identity.test.ts).
    await seedUser(h.db, { nickname: 'root', email: 'root@example.org', admin: true });
    const first = await loginAs('alice', 'alice-pass');
    expect(first).toMatchObject({
      outcome: 'created',
      user: { nickname: 'alice', email: 'alice@example.org', name: 'Alice Liddell', admin: true, provider: 'ldap', password_hash: null },
    });
    await slapd.asRoot((c) =>
      c.modify(ADMINS, [
        new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dnOf('bob')] }) }),
        new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [dnOf('alice')] }) }),
      ]),
    );
    expect((await loginAs('alice', 'alice-pass')).user.admin).toBe(false);
    expect((await loginAs('bob', 'bob-pass')).user.admin).toBe(true);
    expect((await listAudit(h.db)).map((a) => [a.verb, a.targetNickname])).toEqual([
      ['sso_create', 'alice'],
      ['sso_revoke_admin', 'alice'],
      ['sso_create', 'bob'],
    ]);
  });

  test('attack: a deactivated account is refused although the directory accepts the password', async () => {
    const id = await seedUser(h.db, { nickname: 'carol', email: 'carol@example.org', active: false });
    await expect(loginAs('carol', 'carol-pass')).rejects.toThrow(AccountRefusedError);
    expect(await h.db.selectFrom('tokens').select('id').where('user_id', '=', id).execute()).toEqual([]);
  });

  test('wrong passwords count against the login; the limit refuses before the directory is asked', async () => {
    const t = new LoginThrottle({ maxPerAccount: 2, maxPerAddress: 100, windowMs: 60e3 });
    await expect(loginAs('alice', 'nope', t)).rejects.toThrow(LoginFailedError);
    await expect(loginAs('alice', 'nope', t)).rejects.toThrow(LoginFailedError);
    await expect(loginAs('alice', 'alice-pass', t)).rejects.toThrow(/Too many/);
  });
});
