// Single sign-on's settings, parsed from the environment object lib/config.ts hands over (this
// module never reads process.env itself). One prefix per method: CTL_SSO_* for what every method
// shares, CTL_LDAP_* for LDAP.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { UnavailableError } from '../errors';
import { quoteInput } from '../text';

type Env = Readonly<Record<string, string | undefined>>;

/** What an existing account with the provider's (verified) email address becomes at a first SSO login. */
export type EmailLinking = 'link' | 'refuse';

export interface LdapSettings {
  /** CTL_LDAP_URL: ldap:// or ldaps://. */
  readonly url: string;
  /** CTL_LDAP_STARTTLS: an ldap:// connection upgraded to TLS before anything is sent, or the login fails. */
  readonly startTls: boolean;
  /** CTL_LDAP_BIND_DN / CTL_LDAP_BIND_PASSWORD: the service account that searches; none = anonymous search. */
  readonly bindDn: string | null;
  readonly bindPassword: string;
  /** CTL_LDAP_SEARCH_BASE and CTL_LDAP_SEARCH_FILTER, the filter with `{{username}}` where the escaped login goes. */
  readonly searchBase: string;
  readonly searchFilter: string;
  /** CTL_LDAP_UID_ATTRIBUTE, CTL_LDAP_EMAIL_ATTRIBUTE, CTL_LDAP_NAME_ATTRIBUTE, CTL_LDAP_LAST_NAME_ATTRIBUTE. */
  readonly uidAttribute: string;
  readonly emailAttribute: string;
  readonly nameAttribute: string;
  readonly lastNameAttribute: string | null;
  /** CTL_LDAP_ADMIN_ATTRIBUTE + CTL_LDAP_ADMIN_VALUE (Overleaf's IS_ADMIN_ATT / IS_ADMIN_ATT_VALUE). */
  readonly adminAttribute: string | null;
  readonly adminValue: string | null;
  /** CTL_LDAP_ADMIN_GROUP_DN: a groupOfNames / groupOfUniqueNames whose members are admins. */
  readonly adminGroupDn: string | null;
  /** CTL_LDAP_TLS_CA_FILE: the CA (PEM) that signs the directory's certificate, read at start. */
  readonly tlsCa: string | null;
  /** CTL_LDAP_TIMEOUT: per operation, so a hung directory cannot hold logins forever. */
  readonly timeoutMs: number;
}

export interface OidcSettings {
  /** CTL_OIDC_ISSUER: the provider's issuer URL, where discovery starts (https, or http on loopback only). */
  readonly issuer: string;
  /** CTL_OIDC_CLIENT_ID / CTL_OIDC_CLIENT_SECRET: this app's registration at the provider. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** CTL_OIDC_SCOPES: default `openid email profile`. */
  readonly scopes: string;
  /** CTL_OIDC_USERNAME_CLAIM (preferred_username) and CTL_OIDC_NAME_CLAIM (name). */
  readonly usernameClaim: string;
  readonly nameClaim: string;
  /** CTL_OIDC_ADMIN_CLAIM + CTL_OIDC_ADMIN_VALUE: admin when the claim is, or holds, the value (e.g. groups / admins). */
  readonly adminClaim: string | null;
  readonly adminValue: string | null;
  /** The http issuer is on a loopback address (tests, a provider on the same host). */
  readonly insecureLoopback: boolean;
}

export interface SamlSettings {
  /** CTL_SAML_ENTRY_POINT: the IdP's single sign-on URL (HTTP-Redirect binding). */
  readonly entryPoint: string;
  /** CTL_SAML_IDP_CERT_FILE: the IdP's signing certificate (PEM), read at start. */
  readonly idpCert: string;
  /** CTL_SAML_IDP_ISSUER: the IdP's entity ID, checked when set. */
  readonly idpIssuer: string | null;
  /** CTL_SAML_SP_ENTITY_ID: this app's entity ID and the audience required; null: APP_URL/api/auth/saml/metadata. */
  readonly spEntityId: string | null;
  /** CTL_SAML_CLOCK_SKEW: tolerance for NotBefore / NotOnOrAfter (default 60s). */
  readonly clockSkewMs: number;
  /** CTL_SAML_EMAIL_ATTRIBUTE (email), CTL_SAML_USERNAME_ATTRIBUTE (uid), CTL_SAML_NAME_ATTRIBUTE (name). */
  readonly emailAttribute: string;
  readonly usernameAttribute: string;
  readonly nameAttribute: string;
  /** CTL_SAML_ADMIN_ATTRIBUTE + CTL_SAML_ADMIN_VALUE (Overleaf's IS_ADMIN_FIELD / IS_ADMIN_FIELD_VALUE). */
  readonly adminAttribute: string | null;
  readonly adminValue: string | null;
  /**
   * CTL_SAML_SP_DECRYPTION_KEY_FILE + CTL_SAML_SP_DECRYPTION_CERT_FILE (both or neither): this app's
   * RSA key for encrypted assertions and its certificate, published in the metadata; read at start.
   */
  readonly decryption: SamlDecryption | null;
  /**
   * CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE + CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE (both or neither;
   * needs `decryption`): a second key during a rollover, published in the metadata beside the first
   * and tried for an assertion the first cannot decrypt.
   */
  readonly nextDecryption: SamlDecryption | null;
  /** CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS: a plain (unencrypted) assertion is refused; needs `decryption`. */
  readonly requireEncryptedAssertions: boolean;
}

export interface SamlDecryption {
  /** The private key, PEM. */
  readonly key: string;
  /** Its certificate, PEM. */
  readonly cert: string;
}

export interface SsoSettings {
  /** The one method on (Overleaf: one at a time); all null when single sign-on is off. */
  readonly ldap: LdapSettings | null;
  readonly oidc: OidcSettings | null;
  readonly saml: SamlSettings | null;
  /** CTL_SSO_EMAIL_LINKING: link (default) or refuse an existing account with the same verified email. */
  readonly emailLinking: EmailLinking;
  /** CTL_SSO_UPDATE_NAMES_ON_LOGIN: the name is refreshed from the provider at every login. */
  readonly updateNamesOnLogin: boolean;
  /** CTL_SSO_LOCAL_ADMIN_LOGIN: break-glass, a local administrator's password still works while SSO is on. */
  readonly localAdminLogin: boolean;
}

function bad(name: string, value: string, why: string): never {
  throw new UnavailableError(`${name} has a bad value ${quoteInput(value)}: ${why}`);
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return bad(name, value, 'expected true or false');
}

const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

function attribute(env: Env, name: string, fallback: string | null): string | null {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!ATTRIBUTE.test(value)) bad(name, value, 'not an LDAP attribute name');
  return value;
}

/** A DN as configured: no line breaks and something that looks like `attr=value` parts. */
function dn(env: Env, name: string): string | null {
  const value = env[name];
  if (value === undefined || value === '') return null;
  if (/[\r\n\0]/.test(value) || !/^[A-Za-z][A-Za-z0-9-]*=/.test(value.trim())) bad(name, value, 'not an LDAP DN (expected e.g. cn=admin,dc=example,dc=org)');
  return value.trim();
}

function ldapSettings(env: Env): LdapSettings | null {
  const raw = env.CTL_LDAP_URL;
  if (raw === undefined || raw === '') {
    const stray = Object.keys(env).find((k) => k.startsWith('CTL_LDAP_') && env[k]);
    if (stray) bad(stray, stray === 'CTL_LDAP_BIND_PASSWORD' ? '***' : env[stray]!, 'needs CTL_LDAP_URL');
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return bad('CTL_LDAP_URL', raw, 'not a URL');
  }
  if (parsed.protocol !== 'ldap:' && parsed.protocol !== 'ldaps:') bad('CTL_LDAP_URL', raw, 'expected an ldap:// or ldaps:// URL');
  if (parsed.username || parsed.password)
    bad('CTL_LDAP_URL', `${parsed.protocol}//${parsed.host}`, 'put the bind DN and password in CTL_LDAP_BIND_DN and CTL_LDAP_BIND_PASSWORD');
  const searchBase = dn(env, 'CTL_LDAP_SEARCH_BASE');
  if (!searchBase) throw new UnavailableError('CTL_LDAP_SEARCH_BASE is required with CTL_LDAP_URL');
  const searchFilter = env.CTL_LDAP_SEARCH_FILTER || '(uid={{username}})';
  if (!searchFilter.includes('{{username}}') || !searchFilter.startsWith('(') || !searchFilter.endsWith(')') || /[\r\n\0]/.test(searchFilter)) {
    bad('CTL_LDAP_SEARCH_FILTER', searchFilter, 'expected a parenthesised filter containing {{username}}, e.g. (uid={{username}})');
  }
  const bindDn = dn(env, 'CTL_LDAP_BIND_DN');
  const bindPassword = env.CTL_LDAP_BIND_PASSWORD ?? '';
  if (bindDn && !bindPassword)
    throw new UnavailableError('CTL_LDAP_BIND_PASSWORD is required with CTL_LDAP_BIND_DN (an empty password is an unauthenticated bind)');
  const adminAttribute = attribute(env, 'CTL_LDAP_ADMIN_ATTRIBUTE', null);
  const adminValue = env.CTL_LDAP_ADMIN_VALUE || null;
  if ((adminAttribute === null) !== (adminValue === null)) {
    throw new UnavailableError('CTL_LDAP_ADMIN_ATTRIBUTE and CTL_LDAP_ADMIN_VALUE go together: set both or neither');
  }
  const startTls = flag(env, 'CTL_LDAP_STARTTLS', false);
  if (startTls && parsed.protocol === 'ldaps:')
    bad('CTL_LDAP_STARTTLS', env.CTL_LDAP_STARTTLS!, 'an ldaps:// URL is TLS from the first byte: StartTLS goes with an ldap:// URL');
  let tlsCa: string | null = null;
  const caFile = env.CTL_LDAP_TLS_CA_FILE;
  if (caFile) {
    // A CA on a plain ldap:// URL: ldapts would speak TLS from the first byte to the plain port (which
    // the directory resets), and a reader would take the connection for verified TLS. Say which is meant.
    if (parsed.protocol === 'ldap:' && !startTls)
      bad('CTL_LDAP_TLS_CA_FILE', caFile, 'an ldap:// URL is clear text: use an ldaps:// URL or CTL_LDAP_STARTTLS=true');
    try {
      tlsCa = fs.readFileSync(caFile, 'utf8');
    } catch {
      bad('CTL_LDAP_TLS_CA_FILE', caFile, 'cannot be read');
    }
    if (!tlsCa.includes('-----BEGIN CERTIFICATE-----')) bad('CTL_LDAP_TLS_CA_FILE', caFile, 'not a PEM certificate');
  }
  const timeout = env.CTL_LDAP_TIMEOUT || '5000';
  if (!/^\d{1,6}$/.test(timeout) || Number(timeout) < 100) bad('CTL_LDAP_TIMEOUT', timeout, 'expected milliseconds, at least 100');
  return {
    url: raw,
    startTls,
    bindDn,
    bindPassword,
    searchBase,
    searchFilter,
    uidAttribute: attribute(env, 'CTL_LDAP_UID_ATTRIBUTE', 'uid')!,
    emailAttribute: attribute(env, 'CTL_LDAP_EMAIL_ATTRIBUTE', 'mail')!,
    nameAttribute: attribute(env, 'CTL_LDAP_NAME_ATTRIBUTE', 'cn')!,
    lastNameAttribute: attribute(env, 'CTL_LDAP_LAST_NAME_ATTRIBUTE', null),
    adminAttribute,
    adminValue,
    adminGroupDn: dn(env, 'CTL_LDAP_ADMIN_GROUP_DN'),
    tlsCa,
    timeoutMs: Number(timeout),
  };
}

const CLAIM = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;

function claim(env: Env, name: string, fallback: string | null): string | null {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!CLAIM.test(value)) bad(name, value, 'not a claim name');
  return value;
}

function oidcSettings(env: Env): OidcSettings | null {
  const issuer = env.CTL_OIDC_ISSUER;
  if (issuer === undefined || issuer === '') {
    const stray = Object.keys(env).find((k) => k.startsWith('CTL_OIDC_') && env[k]);
    if (stray) bad(stray, stray === 'CTL_OIDC_CLIENT_SECRET' ? '***' : env[stray]!, 'needs CTL_OIDC_ISSUER');
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(issuer);
  } catch {
    return bad('CTL_OIDC_ISSUER', issuer, 'not a URL');
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback))
    bad('CTL_OIDC_ISSUER', issuer, 'expected an https:// URL (http:// only on a loopback address)');
  if (parsed.username || parsed.password || parsed.search || parsed.hash)
    bad('CTL_OIDC_ISSUER', `${parsed.protocol}//${parsed.host}`, 'expected the bare issuer URL');
  const clientId = env.CTL_OIDC_CLIENT_ID ?? '';
  if (!/^[\x21-\x7e]{1,255}$/.test(clientId)) throw new UnavailableError('CTL_OIDC_CLIENT_ID is required with CTL_OIDC_ISSUER (visible ASCII)');
  const clientSecret = env.CTL_OIDC_CLIENT_SECRET ?? '';
  if (!clientSecret || /[\r\n\0]/.test(clientSecret)) throw new UnavailableError('CTL_OIDC_CLIENT_SECRET is required with CTL_OIDC_ISSUER (one line)');
  const scopes = (env.CTL_OIDC_SCOPES || 'openid email profile').trim().replace(/\s+/g, ' ');
  if (!scopes.split(' ').includes('openid') || !/^[\x21-\x7e ]+$/.test(scopes))
    bad('CTL_OIDC_SCOPES', scopes, 'expected space-separated scopes including openid');
  const adminClaim = claim(env, 'CTL_OIDC_ADMIN_CLAIM', null);
  const adminValue = env.CTL_OIDC_ADMIN_VALUE || null;
  if ((adminClaim === null) !== (adminValue === null))
    throw new UnavailableError('CTL_OIDC_ADMIN_CLAIM and CTL_OIDC_ADMIN_VALUE go together: set both or neither');
  return {
    issuer,
    clientId,
    clientSecret,
    scopes,
    usernameClaim: claim(env, 'CTL_OIDC_USERNAME_CLAIM', 'preferred_username')!,
    nameClaim: claim(env, 'CTL_OIDC_NAME_CLAIM', 'name')!,
    adminClaim,
    adminValue,
    insecureLoopback: parsed.protocol === 'http:',
  };
}

function samlSettings(env: Env): SamlSettings | null {
  const entryPoint = env.CTL_SAML_ENTRY_POINT;
  if (entryPoint === undefined || entryPoint === '') {
    const stray = Object.keys(env).find((k) => k.startsWith('CTL_SAML_') && env[k]);
    if (stray) bad(stray, env[stray]!, 'needs CTL_SAML_ENTRY_POINT');
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(entryPoint);
  } catch {
    return bad('CTL_SAML_ENTRY_POINT', entryPoint, 'not a URL');
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    bad('CTL_SAML_ENTRY_POINT', entryPoint, 'expected an https:// URL (http:// only on a loopback address)');
  }
  const certFile = env.CTL_SAML_IDP_CERT_FILE;
  if (!certFile) throw new UnavailableError("CTL_SAML_IDP_CERT_FILE is required with CTL_SAML_ENTRY_POINT (the IdP's signing certificate, PEM)");
  let idpCert = '';
  try {
    idpCert = fs.readFileSync(certFile, 'utf8');
  } catch {
    bad('CTL_SAML_IDP_CERT_FILE', certFile, 'cannot be read');
  }
  if (!idpCert.includes('-----BEGIN CERTIFICATE-----')) bad('CTL_SAML_IDP_CERT_FILE', certFile, 'not a PEM certificate');
  const text = (name: string): string | null => {
    const value = env[name];
    if (value === undefined || value === '') return null;
    if (!/^[\x21-\x7e]{1,1024}$/.test(value)) bad(name, value, 'expected visible ASCII without spaces');
    return value;
  };
  const skew = env.CTL_SAML_CLOCK_SKEW ? parseSeconds(env.CTL_SAML_CLOCK_SKEW) : 60e3;
  if (skew === null || skew > 600e3) bad('CTL_SAML_CLOCK_SKEW', env.CTL_SAML_CLOCK_SKEW!, 'expected a duration of at most 10m, like 30s or 2m');
  const adminAttribute = text('CTL_SAML_ADMIN_ATTRIBUTE');
  const adminValue = env.CTL_SAML_ADMIN_VALUE || null;
  if ((adminAttribute === null) !== (adminValue === null))
    throw new UnavailableError('CTL_SAML_ADMIN_ATTRIBUTE and CTL_SAML_ADMIN_VALUE go together: set both or neither');
  const decryption = samlDecryption(env, 'CTL_SAML_SP_DECRYPTION_KEY_FILE', 'CTL_SAML_SP_DECRYPTION_CERT_FILE');
  const nextDecryption = samlDecryption(env, 'CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE', 'CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE');
  if (nextDecryption && !decryption)
    throw new UnavailableError(
      'CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE needs CTL_SAML_SP_DECRYPTION_KEY_FILE and CTL_SAML_SP_DECRYPTION_CERT_FILE (the key it rolls over from)',
    );
  if (nextDecryption && decryption && nextDecryption.key === decryption.key)
    bad('CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE', env.CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE!, 'the same key as CTL_SAML_SP_DECRYPTION_KEY_FILE');
  const requireEncryptedAssertions = flag(env, 'CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS', false);
  if (requireEncryptedAssertions && !decryption)
    throw new UnavailableError('CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS needs CTL_SAML_SP_DECRYPTION_KEY_FILE and CTL_SAML_SP_DECRYPTION_CERT_FILE');
  return {
    entryPoint,
    idpCert,
    idpIssuer: text('CTL_SAML_IDP_ISSUER'),
    spEntityId: text('CTL_SAML_SP_ENTITY_ID'),
    clockSkewMs: skew,
    emailAttribute: text('CTL_SAML_EMAIL_ATTRIBUTE') ?? 'email',
    usernameAttribute: text('CTL_SAML_USERNAME_ATTRIBUTE') ?? 'uid',
    nameAttribute: text('CTL_SAML_NAME_ATTRIBUTE') ?? 'name',
    adminAttribute,
    adminValue,
    decryption,
    nextDecryption,
    requireEncryptedAssertions,
  };
}

/**
 * The SP's decryption key and certificate, checked at start so that a typo is exit 6 now rather
 * than a refused login later: both readable, PEM, an RSA key (XML encryption's key transport is
 * RSA-OAEP), and the certificate the key's own (the IdP encrypts for the certificate the metadata
 * publishes; another one's assertions could not be decrypted here). Errors name the file, never
 * the key.
 */
function samlDecryption(env: Env, keyName: string, certName: string): SamlDecryption | null {
  const keyFile = env[keyName] || null;
  const certFile = env[certName] || null;
  if (!keyFile && !certFile) return null;
  if (!keyFile || !certFile) throw new UnavailableError(`${keyName} and ${certName} go together: set both or neither`);
  const read = (name: string, file: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return bad(name, file, 'cannot be read');
    }
  };
  const key = read(keyName, keyFile);
  const cert = read(certName, certFile);
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey({ key, format: 'pem' });
  } catch {
    return bad(keyName, keyFile, 'not a PEM private key (unencrypted)');
  }
  if (privateKey.asymmetricKeyType !== 'rsa') bad(keyName, keyFile, 'not an RSA key (XML encryption takes RSA)');
  let x509: crypto.X509Certificate;
  try {
    // One certificate: the metadata publishes the file's body as one X509Certificate.
    if (cert.split('-----BEGIN CERTIFICATE-----').length !== 2) throw new Error('not one PEM certificate');
    x509 = new crypto.X509Certificate(cert);
  } catch {
    return bad(certName, certFile, 'not one PEM certificate');
  }
  if (!x509.checkPrivateKey(privateKey)) bad(certName, certFile, `not the certificate of the key in ${keyName}`);
  // The key as node-saml hands it to the decryption: PKCS#8, whatever else the file held.
  return { key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), cert };
}

/** '30s', '2m' or '0s' in milliseconds; null when it does not parse. */
function parseSeconds(text: string): number | null {
  const match = /^\s*(\d{1,6})\s*([sm])\s*$/i.exec(text);
  return match ? Number(match[1]) * (match[2].toLowerCase() === 's' ? 1e3 : 60e3) : null;
}

/** Every single sign-on setting; a bad one is exit 6 naming the variable (the bind password is never echoed). */
export function ssoSettings(env: Env): SsoSettings {
  const linking = (env.CTL_SSO_EMAIL_LINKING || 'link').trim().toLowerCase();
  if (linking !== 'link' && linking !== 'refuse') bad('CTL_SSO_EMAIL_LINKING', env.CTL_SSO_EMAIL_LINKING!, 'expected link or refuse');
  const ldap = ldapSettings(env);
  const oidc = oidcSettings(env);
  const saml = samlSettings(env);
  const on = [ldap && 'CTL_LDAP_URL', oidc && 'CTL_OIDC_ISSUER', saml && 'CTL_SAML_ENTRY_POINT'].filter(Boolean);
  if (on.length > 1) throw new UnavailableError(`${on.join(' and ')} are both set: single sign-on takes one method at a time`);
  return {
    ldap,
    oidc,
    saml,
    emailLinking: linking,
    updateNamesOnLogin: flag(env, 'CTL_SSO_UPDATE_NAMES_ON_LOGIN', false),
    localAdminLogin: flag(env, 'CTL_SSO_LOCAL_ADMIN_LOGIN', false),
  };
}

/** The single sign-on method that is on, or null. */
export function activeSsoMethod(settings: SsoSettings): 'ldap' | 'oidc' | 'saml' | null {
  return settings.ldap ? 'ldap' : settings.oidc ? 'oidc' : settings.saml ? 'saml' : null;
}
