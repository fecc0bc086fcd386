// LDAP sign-in (issue 16): the service account searches for the login, then the password is proved
// by binding as the entry found; what the directory says then feeds the external-identity core.
import * as net from 'node:net';
import { Client, type Entry } from 'ldapts';
import type { LibContext } from '../lib-context';
import type { LdapSettings } from './settings';
import { LoginFailedError, LoginThrottle } from '../auth/login';
import { UnavailableError } from '../errors';
import { externalLogin, type ExternalProfile, type ExternalSession, type IdentitySettings } from './identity';

/**
 * RFC 4515's escaping of a value inside a filter: `*`, `(`, `)`, `\` and NUL as `\XX`, so a login of
 * `*)(uid=*` is looked up as those eight characters instead of widening the filter to everyone.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The configured filter with the escaped login in place of every `{{username}}`. */
export function userFilter(template: string, login: string): string {
  return template.split('{{username}}').join(escapeFilterValue(login));
}

export interface LdapLoginInput {
  readonly login: string;
  readonly password: string;
  readonly address: string;
}

/** What the directory says about the person, once their password is proved. */
export interface LdapPerson {
  readonly dn: string;
  readonly uid: string | null;
  readonly email: string | null;
  readonly name: string | null;
  readonly admin: boolean | null;
}

function first(entry: Entry, attribute: string): string | null {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  if (!key) return null;
  const value = entry[key];
  const one = Array.isArray(value) ? value[0] : value;
  if (one === undefined) return null;
  return Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

function all(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  if (!key) return [];
  const value = entry[key];
  return (Array.isArray(value) ? value : [value]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function firstLine(error: unknown): string {
  // Duck-typed: errors from node:tls come from another realm under test runners, failing instanceof.
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  return typeof message === 'string' && message ? message.split('\n')[0].slice(0, 200) : typeof code === 'string' ? code : 'unknown error';
}

/**
 * A client for one login: ldaps:// is TLS from the first byte; with StartTLS the ldap:// connection
 * is upgraded before anything else is sent, and a failed upgrade throws, so no bind goes in clear.
 * Three traps of ldapts 9 are avoided here. A `tlsOptions` given to its constructor makes it speak
 * TLS from the first byte even on ldap:// (slapd resets that: the "handshake reset" of the first
 * try), so the CA goes to startTLS() only. startTLS() checks the certificate against "localhost"
 * unless told the server's name. And ldapts connects again by itself when an operation finds no
 * connection, in clear: after StartTLS this client may open no second connection.
 */
export async function connectLdap(settings: LdapSettings): Promise<Client> {
  const ca = settings.tlsCa ? { ca: settings.tlsCa } : {};
  const options = { url: settings.url, timeout: settings.timeoutMs, connectTimeout: settings.timeoutMs };
  if (!settings.startTls) return new Client({ ...options, tlsOptions: ca });
  let socket: net.Socket | null = null;
  const once = (port: number, host: string) => {
    if (socket) throw new Error('The connection upgraded by StartTLS is gone; not connecting again in clear text');
    socket = net.connect(port, host);
    return socket;
  };
  const client = new Client({ ...options, createConnection: once as typeof net.connect });
  const host = new URL(settings.url).hostname.replace(/^\[(.*)\]$/, '$1');
  // ldapts times its operations, not the handshake: a server that answers StartTLS and then never
  // completes the handshake would hold the login for ever.
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the TLS handshake took over ${settings.timeoutMs} ms`)), settings.timeoutMs);
  });
  try {
    await Promise.race([client.startTLS({ ...ca, host, servername: net.isIP(host) ? undefined : host }), stalled]);
  } catch (error) {
    (socket as net.Socket | null)?.destroy();
    await client.unbind().catch(() => undefined);
    throw new UnavailableError(`StartTLS with the LDAP directory failed, so no password was sent: ${firstLine(error)}`);
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** An LDAP result code that means "these credentials are wrong", as opposed to a directory in trouble. */
function isInvalidCredentials(error: unknown): boolean {
  return (error as { code?: number })?.code === 49;
}

function unavailable(error: unknown): UnavailableError {
  if (error instanceof UnavailableError) return error;
  return new UnavailableError(`The LDAP directory cannot be reached or refused the search: ${firstLine(error)}`);
}

/**
 * Proves a login and password against the directory: never a bind with an empty password (LDAP
 * treats a DN with no password as an unauthenticated bind, which "succeeds"); the service account
 * (or an anonymous bind) searches with the login escaped into the filter; exactly one entry must
 * match; then a bind as that entry with the password. The admin verdict is the admin attribute's
 * value, or membership of the admin group, read with the service account. Null: wrong credentials.
 */
export async function verifyLdapPassword(settings: LdapSettings, login: string, password: string): Promise<LdapPerson | null> {
  if (password.length === 0 || login.length === 0) return null;
  let client: Client | null = null;
  try {
    client = await connectLdap(settings);
    if (settings.bindDn) await client.bind(settings.bindDn, settings.bindPassword);
    const attributes = [settings.uidAttribute, settings.emailAttribute, settings.nameAttribute];
    if (settings.lastNameAttribute) attributes.push(settings.lastNameAttribute);
    if (settings.adminAttribute) attributes.push(settings.adminAttribute);
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await client.search(settings.searchBase, {
        scope: 'sub',
        filter: userFilter(settings.searchFilter, login),
        attributes,
        sizeLimit: 2,
      }));
    } catch (error) {
      // More than one entry: the filter is ambiguous for this login, which must not pick one at random.
      if ((error as { code?: number })?.code === 4) return null;
      throw error;
    }
    if (entries.length !== 1) return null;
    const entry = entries[0];
    let admin: boolean | null = null;
    if (settings.adminAttribute && settings.adminValue) {
      admin = all(entry, settings.adminAttribute).some((v) => v.toLowerCase() === settings.adminValue!.toLowerCase());
    }
    if (settings.adminGroupDn) {
      const dnValue = escapeFilterValue(entry.dn);
      const { searchEntries } = await client.search(settings.adminGroupDn, {
        scope: 'base',
        filter: `(|(member=${dnValue})(uniqueMember=${dnValue}))`,
        attributes: ['dn'],
      });
      admin = admin === true || searchEntries.length > 0;
    }
    try {
      await client.bind(entry.dn, password);
    } catch (error) {
      if (isInvalidCredentials(error)) return null;
      throw error;
    }
    const given = first(entry, settings.nameAttribute);
    const last = settings.lastNameAttribute ? first(entry, settings.lastNameAttribute) : null;
    return {
      dn: entry.dn,
      uid: first(entry, settings.uidAttribute),
      email: first(entry, settings.emailAttribute),
      name: [given, last].filter(Boolean).join(' ') || null,
      admin,
    };
  } catch (error) {
    throw unavailable(error);
  } finally {
    await client?.unbind().catch(() => undefined);
  }
}

/** The directory's answer as the identity core's profile: the DN is the subject, and the directory's address counts as verified. */
export function ldapProfile(person: LdapPerson): ExternalProfile {
  return { provider: 'ldap', subject: person.dn, email: person.email, emailVerified: true, username: person.uid, name: person.name, admin: person.admin };
}

/**
 * `POST /api/auth/login` while LDAP is on: the same throttle as a local login (per address, then per
 * login as typed, counted before the directory is asked), the password proved by the directory,
 * and the session opened by the identity core. A directory that cannot be reached is a 503, and
 * does not count as a failed attempt.
 */
export async function ldapLogin(
  ctx: LibContext,
  settings: LdapSettings,
  identity: IdentitySettings,
  throttle: LoginThrottle,
  input: LdapLoginInput,
): Promise<ExternalSession> {
  const now = ctx.now().getTime();
  // The same counting as a local login (lib/auth/login.ts): in the database, per address, per
  // login as typed and address, and per login; before the directory is asked.
  const accountKey = LoginThrottle.accountKey(input.login, null);
  const slots = await throttle.inLane(() => throttle.take(ctx.db, { address: input.address, accountKey, userId: null }, now));
  // A wrong password stays counted; an unreachable directory or a right password gives it back.
  let giveBack = false;
  try {
    const person = await verifyLdapPassword(settings, input.login, input.password).catch((error: unknown) => {
      giveBack = true;
      throw error;
    });
    if (!person) throw new LoginFailedError('Invalid login or password');
    giveBack = true;
    const session = await externalLogin(ctx, identity, ldapProfile(person));
    giveBack = false;
    await throttle.succeeded(ctx.db, slots, session.user.id, input.address, now);
    return session;
  } finally {
    if (giveBack) await throttle.giveBack(ctx.db, slots);
  }
}
