import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ssoSettings } from '../../../lib/sso/settings';
import { loadConfig } from '../../../lib/config';
import { exitCodeOf } from '../../../lib/errors';
import { createKeyPair } from '../../helpers/saml-idp';

const OIDC = { CTL_OIDC_ISSUER: 'https://idp.example.org/realms/main', CTL_OIDC_CLIENT_ID: 'userctl', CTL_OIDC_CLIENT_SECRET: 's3cret' };
const LDAP = { CTL_LDAP_URL: 'ldap://ldap.example.org', CTL_LDAP_SEARCH_BASE: 'ou=people,dc=example,dc=org' };

function failure(env: Record<string, string>): [number, string] {
  try {
    loadConfig({ CTL_ENV_FILE: '', ...env });
  } catch (error) {
    return [exitCodeOf(error), (error as Error).message];
  }
  throw new Error('loadConfig accepted it');
}

describe('SSO settings', () => {
  test('off by default; Overleaf-like defaults once CTL_LDAP_URL is set', () => {
    expect(ssoSettings({})).toEqual({ ldap: null, oidc: null, saml: null, emailLinking: 'link', updateNamesOnLogin: false, localAdminLogin: false });
    expect(ssoSettings(LDAP).ldap).toMatchObject({
      url: 'ldap://ldap.example.org',
      startTls: false,
      bindDn: null,
      searchFilter: '(uid={{username}})',
      uidAttribute: 'uid',
      emailAttribute: 'mail',
      nameAttribute: 'cn',
      adminAttribute: null,
      tlsCa: null,
    });
  });

  test.each([
    [{ CTL_LDAP_URL: 'http://ldap.example.org' }, 'CTL_LDAP_URL has a bad value "http://ldap.example.org": expected an ldap:// or ldaps:// URL'],
    [
      { CTL_LDAP_URL: 'ldap://u:pw@ldap.example.org' },
      'CTL_LDAP_URL has a bad value "ldap://ldap.example.org": put the bind DN and password in CTL_LDAP_BIND_DN and CTL_LDAP_BIND_PASSWORD',
    ],
    [{ CTL_LDAP_SEARCH_BASE: '' }, 'CTL_LDAP_SEARCH_BASE is required with CTL_LDAP_URL'],
    [
      { CTL_LDAP_SEARCH_FILTER: '(uid=alice)' },
      'CTL_LDAP_SEARCH_FILTER has a bad value "(uid=alice)": expected a parenthesised filter containing {{username}}, e.g. (uid={{username}})',
    ],
    [
      { CTL_LDAP_BIND_DN: 'cn=reader,dc=example,dc=org' },
      'CTL_LDAP_BIND_PASSWORD is required with CTL_LDAP_BIND_DN (an empty password is an unauthenticated bind)',
    ],
    [{ CTL_LDAP_EMAIL_ATTRIBUTE: 'mail)(x' }, 'CTL_LDAP_EMAIL_ATTRIBUTE has a bad value "mail)(x": not an LDAP attribute name'],
    [{ CTL_LDAP_ADMIN_ATTRIBUTE: 'memberOf' }, 'CTL_LDAP_ADMIN_ATTRIBUTE and CTL_LDAP_ADMIN_VALUE go together: set both or neither'],
    [
      { CTL_LDAP_URL: 'ldaps://ldap.example.org', CTL_LDAP_TLS_CA_FILE: '/nonexistent/ca.pem' },
      'CTL_LDAP_TLS_CA_FILE has a bad value "/nonexistent/ca.pem": cannot be read',
    ],
    [
      { CTL_LDAP_TLS_CA_FILE: '/etc/ssl/ca.pem' },
      'CTL_LDAP_TLS_CA_FILE has a bad value "/etc/ssl/ca.pem": an ldap:// URL is clear text: use an ldaps:// URL or CTL_LDAP_STARTTLS=true',
    ],
    [
      { CTL_LDAP_URL: 'ldaps://ldap.example.org', CTL_LDAP_STARTTLS: 'true' },
      'CTL_LDAP_STARTTLS has a bad value "true": an ldaps:// URL is TLS from the first byte: StartTLS goes with an ldap:// URL',
    ],
    [{ CTL_LDAP_STARTTLS: 'sometimes' }, 'CTL_LDAP_STARTTLS has a bad value "sometimes": expected true or false'],
    [{ CTL_LDAP_TIMEOUT: 'soon' }, 'CTL_LDAP_TIMEOUT has a bad value "soon": expected milliseconds, at least 100'],
    [{ CTL_SSO_EMAIL_LINKING: 'maybe' }, 'CTL_SSO_EMAIL_LINKING has a bad value "maybe": expected link or refuse'],
    [{ ...OIDC }, 'CTL_LDAP_URL and CTL_OIDC_ISSUER are both set: single sign-on takes one method at a time'],
  ])('a bad value is exit 6 naming the variable: %j', (env, message) => {
    expect(failure({ ...LDAP, ...env })).toEqual([6, message]);
  });

  test.each([
    [
      { CTL_OIDC_ISSUER: 'http://idp.example.org' },
      'CTL_OIDC_ISSUER has a bad value "http://idp.example.org": expected an https:// URL (http:// only on a loopback address)',
    ],
    [{ CTL_OIDC_CLIENT_ID: '' }, 'CTL_OIDC_CLIENT_ID is required with CTL_OIDC_ISSUER (visible ASCII)'],
    [{ CTL_OIDC_CLIENT_SECRET: '' }, 'CTL_OIDC_CLIENT_SECRET is required with CTL_OIDC_ISSUER (one line)'],
    [{ CTL_OIDC_SCOPES: 'email profile' }, 'CTL_OIDC_SCOPES has a bad value "email profile": expected space-separated scopes including openid'],
    [{ CTL_OIDC_ADMIN_VALUE: 'admins' }, 'CTL_OIDC_ADMIN_CLAIM and CTL_OIDC_ADMIN_VALUE go together: set both or neither'],
    [{ CTL_OIDC_ISSUER: '', CTL_OIDC_CLIENT_ID: '' }, 'CTL_OIDC_CLIENT_SECRET has a bad value "***": needs CTL_OIDC_ISSUER'],
  ])('OpenID Connect: a bad value is exit 6 naming the variable: %j', (env, message) => {
    expect(failure({ ...OIDC, ...env })).toEqual([6, message]);
  });

  test('OpenID Connect: https issuers, and http ones on loopback only', () => {
    expect(ssoSettings(OIDC).oidc).toMatchObject({
      issuer: 'https://idp.example.org/realms/main',
      scopes: 'openid email profile',
      usernameClaim: 'preferred_username',
      insecureLoopback: false,
    });
    expect(ssoSettings({ ...OIDC, CTL_OIDC_ISSUER: 'http://127.0.0.1:8080' }).oidc?.insecureLoopback).toBe(true);
  });

  test.each([
    [
      { CTL_SAML_ENTRY_POINT: 'http://idp.example.org/sso' },
      'CTL_SAML_ENTRY_POINT has a bad value "http://idp.example.org/sso": expected an https:// URL (http:// only on a loopback address)',
    ],
    [{ CTL_SAML_IDP_CERT_FILE: '' }, "CTL_SAML_IDP_CERT_FILE is required with CTL_SAML_ENTRY_POINT (the IdP's signing certificate, PEM)"],
    [{ CTL_SAML_CLOCK_SKEW: '1h' }, 'CTL_SAML_CLOCK_SKEW has a bad value "1h": expected a duration of at most 10m, like 30s or 2m'],
    [{ CTL_SAML_ADMIN_ATTRIBUTE: 'groups' }, 'CTL_SAML_ADMIN_ATTRIBUTE and CTL_SAML_ADMIN_VALUE go together: set both or neither'],
    [{ ...OIDC }, 'CTL_OIDC_ISSUER and CTL_SAML_ENTRY_POINT are both set: single sign-on takes one method at a time'],
  ])('SAML: a bad value is exit 6 naming the variable: %j', (env, message) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-ca-')), 'idp.pem');
    fs.writeFileSync(file, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(failure({ CTL_SAML_ENTRY_POINT: 'https://idp.example.org/sso', CTL_SAML_IDP_CERT_FILE: file, ...env })).toEqual([6, message]);
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  test('a CTL_LDAP_* setting without CTL_LDAP_URL is exit 6, and the bind password is never echoed', () => {
    expect(failure({ CTL_LDAP_BIND_PASSWORD: 'hunter2' })).toEqual([6, 'CTL_LDAP_BIND_PASSWORD has a bad value "***": needs CTL_LDAP_URL']);
  });

  test('a long bad value is repeated up to 100 characters (lib/text.ts clipInput)', () => {
    expect(failure({ ...LDAP, CTL_LDAP_TIMEOUT: 'x'.repeat(5000) })).toEqual([
      6,
      `CTL_LDAP_TIMEOUT has a bad value "${'x'.repeat(99)}…": expected milliseconds, at least 100`,
    ]);
  });

  test('StartTLS goes with an ldap:// URL', () => {
    expect(ssoSettings({ ...LDAP, CTL_LDAP_STARTTLS: 'true' }).ldap).toMatchObject({ url: 'ldap://ldap.example.org', startTls: true });
  });

  test('the CA file is read once, at start', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-ca-')), 'ca.pem');
    fs.writeFileSync(file, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const startTls = { ...LDAP, CTL_LDAP_STARTTLS: 'true', CTL_LDAP_TLS_CA_FILE: file };
    expect(ssoSettings(startTls).ldap?.tlsCa).toContain('BEGIN CERTIFICATE');
    expect(ssoSettings({ ...LDAP, CTL_LDAP_URL: 'ldaps://ldap.example.org', CTL_LDAP_TLS_CA_FILE: file }).ldap?.tlsCa).toContain('BEGIN CERTIFICATE');
    fs.writeFileSync(file, 'not a certificate');
    expect(failure(startTls)).toEqual([6, `CTL_LDAP_TLS_CA_FILE has a bad value ${JSON.stringify(file)}: not a PEM certificate`]);
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  describe('SAML decryption key and certificate', () => {
    const sp = createKeyPair();
    const other = createKeyPair('/CN=someone-else');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-saml-keys-'));
    const file = (name: string, text: string) => {
      fs.writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    const idpCert = file('idp.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const SAML = { CTL_SAML_ENTRY_POINT: 'https://idp.example.org/sso', CTL_SAML_IDP_CERT_FILE: idpCert };
    const KEYS = { CTL_SAML_SP_DECRYPTION_KEY_FILE: sp.keyFile, CTL_SAML_SP_DECRYPTION_CERT_FILE: sp.certFile };
    afterAll(() => {
      sp.remove();
      other.remove();
      fs.rmSync(dir, { recursive: true });
    });

    test('off by default; with both files the key and certificate are read at start; encryption is required only when asked', () => {
      expect(ssoSettings(SAML).saml).toMatchObject({ decryption: null, requireEncryptedAssertions: false });
      const on = ssoSettings({ ...SAML, ...KEYS }).saml!;
      expect([on.decryption?.key.startsWith('-----BEGIN PRIVATE KEY-----'), on.decryption?.cert, on.requireEncryptedAssertions]).toEqual([
        true,
        fs.readFileSync(sp.certFile, 'utf8'),
        false,
      ]);
      expect(ssoSettings({ ...SAML, ...KEYS, CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS: 'true' }).saml?.requireEncryptedAssertions).toBe(true);
    });

    test.each([
      [
        { CTL_SAML_SP_DECRYPTION_KEY_FILE: '/etc/userctl/sp.key' },
        'CTL_SAML_SP_DECRYPTION_KEY_FILE and CTL_SAML_SP_DECRYPTION_CERT_FILE go together: set both or neither',
      ],
      [
        { CTL_SAML_SP_DECRYPTION_CERT_FILE: '/etc/userctl/sp.pem' },
        'CTL_SAML_SP_DECRYPTION_KEY_FILE and CTL_SAML_SP_DECRYPTION_CERT_FILE go together: set both or neither',
      ],
      [
        { CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS: 'true' },
        'CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS needs CTL_SAML_SP_DECRYPTION_KEY_FILE and CTL_SAML_SP_DECRYPTION_CERT_FILE',
      ],
      [{ ...KEYS, CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS: 'maybe' }, 'CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS has a bad value "maybe": expected true or false'],
      [
        { ...KEYS, CTL_SAML_SP_DECRYPTION_KEY_FILE: '/nonexistent/sp.key' },
        'CTL_SAML_SP_DECRYPTION_KEY_FILE has a bad value "/nonexistent/sp.key": cannot be read',
      ],
      [
        { ...KEYS, CTL_SAML_SP_DECRYPTION_CERT_FILE: '/nonexistent/sp.pem' },
        'CTL_SAML_SP_DECRYPTION_CERT_FILE has a bad value "/nonexistent/sp.pem": cannot be read',
      ],
    ])('a bad combination or an unreadable file is exit 6 naming the variable: %j', (env, message) => {
      expect(failure({ ...SAML, ...env })).toEqual([6, message]);
    });

    test('a rollover key (CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE / _CERT_FILE) is read and checked at start as the first one is', () => {
      const NEXT = { CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE: other.keyFile, CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE: other.certFile };
      expect(ssoSettings({ ...SAML, ...KEYS }).saml?.nextDecryption).toBeNull();
      expect(ssoSettings({ ...SAML, ...KEYS, ...NEXT }).saml?.nextDecryption?.cert).toBe(fs.readFileSync(other.certFile, 'utf8'));
      const cases: [Record<string, string>, string][] = [
        [NEXT, 'CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE needs CTL_SAML_SP_DECRYPTION_KEY_FILE and CTL_SAML_SP_DECRYPTION_CERT_FILE (the key it rolls over from)'],
        [
          { ...KEYS, CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE: other.keyFile },
          'CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE and CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE go together: set both or neither',
        ],
        [
          { ...KEYS, ...NEXT, CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE: '/nonexistent/next.key' },
          'CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE has a bad value "/nonexistent/next.key": cannot be read',
        ],
        [
          { ...KEYS, ...NEXT, CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE: other.certFile },
          `CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE has a bad value "${other.certFile}": not a PEM private key (unencrypted)`,
        ],
        [
          { ...KEYS, ...NEXT, CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE: sp.certFile },
          `CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE has a bad value "${sp.certFile}": not the certificate of the key in CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE`,
        ],
        [
          { ...KEYS, CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE: sp.keyFile, CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE: sp.certFile },
          `CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE has a bad value "${sp.keyFile}": the same key as CTL_SAML_SP_DECRYPTION_KEY_FILE`,
        ],
      ];
      for (const [env, message] of cases) expect(failure({ ...SAML, ...env })).toEqual([6, message]);
    });

    test('a key or certificate that is not what it should be is exit 6 naming the file, never echoing the key', () => {
      const secret = fs.readFileSync(sp.keyFile, 'utf8');
      const cases: [Record<string, string>, string][] = [
        [{ CTL_SAML_SP_DECRYPTION_KEY_FILE: sp.certFile }, 'CTL_SAML_SP_DECRYPTION_KEY_FILE has a bad value "%s": not a PEM private key (unencrypted)'],
        [
          { CTL_SAML_SP_DECRYPTION_KEY_FILE: file('garbled.key', secret.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n').slice(0, 400)) },
          'CTL_SAML_SP_DECRYPTION_KEY_FILE has a bad value "%s": not a PEM private key (unencrypted)',
        ],
        [
          {
            CTL_SAML_SP_DECRYPTION_KEY_FILE: file(
              'ec.key',
              generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
            ),
          },
          'CTL_SAML_SP_DECRYPTION_KEY_FILE has a bad value "%s": not an RSA key (XML encryption takes RSA)',
        ],
        [{ CTL_SAML_SP_DECRYPTION_CERT_FILE: sp.keyFile }, 'CTL_SAML_SP_DECRYPTION_CERT_FILE has a bad value "%s": not one PEM certificate'],
        [
          { CTL_SAML_SP_DECRYPTION_CERT_FILE: file('two.pem', fs.readFileSync(sp.certFile, 'utf8') + fs.readFileSync(other.certFile, 'utf8')) },
          'CTL_SAML_SP_DECRYPTION_CERT_FILE has a bad value "%s": not one PEM certificate',
        ],
        [
          { CTL_SAML_SP_DECRYPTION_CERT_FILE: other.certFile },
          'CTL_SAML_SP_DECRYPTION_CERT_FILE has a bad value "%s": not the certificate of the key in CTL_SAML_SP_DECRYPTION_KEY_FILE',
        ],
      ];
      for (const [env, message] of cases) {
        const [code, text] = failure({ ...SAML, ...KEYS, ...env });
        expect([code, text]).toEqual([6, message.replace('%s', Object.values(env)[0])]);
        expect(text).not.toContain('PRIVATE KEY');
      }
    });
  });
});
