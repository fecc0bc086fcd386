import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnavailableError, UsageError } from './errors';
import { clipInput, quoteInput } from './text';
import { parseEnv } from 'node:util';
import { isIP } from 'node:net';
import { ssoSettings, type SsoSettings } from './sso/settings';

/** SMTP_HOST, SMTP_PORT, SMTP_SECURE: the mail server when it is not given as SMTP_URL. */
export interface SmtpServerConfig {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  readonly secure: boolean;
}

/** Every setting, read once. The only module that looks at process.env. */
export interface Config {
  readonly projectRoot: string;
  readonly databaseUrl: string | null;
  /** The URL came from `--database-url`, not DATABASE_URL: advice that names a command must repeat it. */
  readonly databaseUrlFromOption?: boolean;
  readonly dataDir: string;
  readonly appUrl: string;
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  /** From SMTP_HOST/SMTP_PORT/SMTP_SECURE; null unless SMTP_HOST is set (then SMTP_URL must not be). */
  readonly smtpServer: SmtpServerConfig | null;
  /** SMTP_USER/SMTP_PASSWORD: credentials for either form, so the password can stay out of SMTP_URL. */
  readonly smtpAuth: { readonly user: string; readonly password: string } | null;
  readonly retentionDays: number;
  readonly passwordResetTtlMs: number;
  readonly confirmationTtlMs: number;
  readonly bcryptCost: number;
  readonly lockWaitMs: number;
  readonly batchSize: number;
  /**
   * How far quick batches may grow: `batchSize` itself when CTL_BATCH_SIZE is set (the operator
   * chose a size), else BATCH_GROWTH_LIMIT.
   */
  readonly maxBatchSize: number;
  readonly actor: string;
  /** Settings of `ctl serve` (the app side). */
  readonly serve: ServeConfig;
  /** Single sign-on (CTL_SSO_*, CTL_LDAP_*): lib/sso/settings.ts. */
  readonly sso: SsoSettings;
}

/** What `ctl serve` reads: the listener, the account rules of the app, and its limits. */
export interface ServeConfig {
  readonly port: number;
  readonly host: string;
  /** CTL_REQUIRE_CONFIRMATION: unconfirmed accounts cannot log in; registrations start unconfirmed. */
  readonly requireConfirmation: boolean;
  /** CTL_REGISTRATIONS_OPEN: anyone may register; off, registration needs an invite token. */
  readonly registrationsOpen: boolean;
  /** CTL_ALLOW_ACCOUNT_DELETION: users may delete their own account (DELETE /api/user/delete). */
  readonly allowAccountDeletion: boolean;
  /** CTL_TERMS_VERSION: the terms a user must accept; accepting records this version. */
  readonly termsVersion: string;
  /** CTL_SESSION_TTL: lifetime of a login's access token. */
  readonly sessionTtlMs: number;
  /** CTL_REFRESH_TTL: life of a refresh token (the httpOnly cookie), counted again at every refresh. */
  readonly refreshTtlMs: number;
  /** CTL_LOGIN_MAX_FAILURES / CTL_LOGIN_MAX_FAILURES_PER_ADDRESS within CTL_LOGIN_WINDOW. */
  readonly loginMaxFailures: number;
  readonly loginMaxFailuresPerAddress: number;
  readonly loginWindowMs: number;
  /** CTL_VERIFY_RESEND_INTERVAL: at most one verification email per address in this interval. */
  readonly verifyResendIntervalMs: number;
  /** CTL_AVATAR_MAX_BYTES: the largest avatar image accepted. */
  readonly avatarMaxBytes: number;
  /** CTL_BALANCE_CURRENCY: the currency GET /api/balance names. */
  readonly currency: string;
  /**
   * CTL_TRUST_PROXY: which proxies' X-Forwarded-For to believe for the client address: false
   * (none), a hop count (the proxies in front, each adding one entry), or their addresses and
   * CIDR ranges. Never "all": then the client's own leftmost entry would be its address.
   */
  readonly trustProxy: TrustProxy;
  /** CTL_ACTIVE_WINDOW: a user counts as recently active (metrics) after a login this recent. */
  readonly activeWindowMs: number;
}

/** See ServeConfig.trustProxy; the forms Fastify's trustProxy takes, bar `true`. */
export type TrustProxy = false | number | readonly string[];

export type Env = Readonly<Record<string, string | undefined>>;

/** The folder holding package.json, found from this file whether it runs compiled (dist/lib) or not. */
export function findProjectRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'migrations'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/**
 * Parses a .env file with Node's own parser (util.parseEnv: comments, quotes, `export `, a comment
 * after a quoted value), not a hand-written one: the hand-written one kept the quotes of
 * `DATABASE_URL="postgres://..."  # prod` inside the value.
 */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parseEnv(text))) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * The number of the first line of a settings file that is neither blank, a comment nor
 * `NAME=value` (a quoted value may run over several lines), else null. util.parseEnv does not
 * refuse such a line: it joins it to the next setting's name (`a note\nDATABASE_URL`) or drops it,
 * so a setting was silently lost, and a DATABASE_URL lost so sent ctl to the embedded database.
 */
export function strayDotenvLine(text: string): number | null {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const value = /^(?:export\s+)?[\w.-]+\s*=\s*(.*)$/.exec(line)?.[1];
    if (value === undefined) return i + 1;
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === '`') && !value.includes(quote, 1)) {
      // A quoted value that goes on: it ends at the next line holding its quote (unclosed, it is one line).
      const close = lines.findIndex((l, j) => j > i && l.includes(quote));
      if (close !== -1) i = close;
    }
  }
  return null;
}

/**
 * The environment merged over the project's .env file (sudo strips the environment, so runbooks
 * rely on the file). CTL_ENV_FILE names another file; an empty value means none. A line that is
 * not a setting is exit 6 naming its number (not its text, which may be a secret).
 */
export function effectiveEnv(env: Env, projectRoot: string): Env {
  const file = env.CTL_ENV_FILE ?? path.join(projectRoot, '.env');
  if (!file) return env;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    // No .env is the usual case; a file CTL_ENV_FILE names but that cannot be read is a bad setting
    // (a typo there left DATABASE_URL unset, and ctl then used the embedded database).
    if (env.CTL_ENV_FILE === undefined) return env;
    throw new UnavailableError(`CTL_ENV_FILE names a file that cannot be read: ${clipInput(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const stray = strayDotenvLine(text);
  if (stray !== null) {
    throw new UnavailableError(`the settings file ${clipInput(file)} has a line that is not NAME=value: line ${stray} (a comment starts with #)`);
  }
  const merged: Record<string, string | undefined> = { ...parseDotenv(text) };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) merged[key] = value;
  return merged;
}

/** The account running ctl, for the audit log when neither sudo nor the shell says (cron, systemd). */
function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

function bad(name: string, value: string, why: string): never {
  throw new UnavailableError(`${name} has a bad value ${quoteInput(redactUrl(value))}: ${why}`);
}

/**
 * Drops the password from a URL so it can appear in a message: everything between `user:` and the
 * last '@', whether or not the URL parses (an unencoded '@', '/' or '#' in a password makes parsers
 * disagree about where it ends, and the old "parse, else regex" way printed its tail), and a
 * `password=` in the query string, which drivers also read.
 */
export function redactUrl(value: string): string {
  const redacted = value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[\s\S]*@/i, '$1:***@').replace(/([?&](?:password|pass|pwd|sslpassword)=)[^&]*/gi, '$1***');
  try {
    return new URL(redacted).toString();
  } catch {
    return redacted;
  }
}

function url(name: string, value: string | undefined, protocols: readonly string[]): string | null {
  if (value === undefined || value === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return bad(name, value, 'not a URL');
  }
  if (!protocols.includes(parsed.protocol)) bad(name, value, `expected ${protocols.join(' or ')} URL`);
  // An unencoded '@', '/', '?' or '#' in a password moves where a parser thinks the host is:
  // `postgres://u:Sup3r@SECRET#PW@db/x` parses with host "SECRET", and the driver's "getaddrinfo
  // ENOTFOUND SECRET" then printed part of the password. The host must be what follows the last '@'.
  const at = value.lastIndexOf('@');
  if (
    at >= 0 &&
    value
      .slice(at + 1)
      .split(/[/?#]/)[0]
      .toLowerCase() !== parsed.host.toLowerCase()
  ) {
    bad(name, value, "the host is not what follows the last '@': percent-encode '@', '/', '?' and '#' in the password (%40, %2F, %3F, %23)");
  }
  if (parsed.port !== '' && (Number(parsed.port) < 1 || Number(parsed.port) > 65535)) bad(name, value, 'port out of range');
  return value;
}

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value.trim())) bad(name, value, 'not a whole number');
  const n = Number(value);
  if (n < min || n > max) bad(name, value, `must be between ${min} and ${max}`);
  return n;
}

/**
 * Without CTL_BATCH_SIZE, batches start at 5000 rows and grow while they stay quick: a million
 * activities go in about a dozen transactions instead of 200, each still well under a second.
 */
export const BATCH_GROWTH_LIMIT = 100_000;

function batchSizing(value: string | undefined): Pick<Config, 'batchSize' | 'maxBatchSize'> {
  const batchSize = integer('CTL_BATCH_SIZE', value, 5000, 1, 1000000);
  return { batchSize, maxBatchSize: value === undefined || value === '' ? BATCH_GROWTH_LIMIT : batchSize };
}

/** SMTP_HOST and friends. A bad value is exit 6 naming the variable; the password is never echoed. */
function smtpSettings(env: Env, smtpUrl: string | null): Pick<Config, 'smtpServer' | 'smtpAuth'> {
  const host = env.SMTP_HOST || '';
  const flag = (env.SMTP_SECURE ?? '').trim().toLowerCase();
  if (!host) {
    for (const name of ['SMTP_PORT', 'SMTP_SECURE'] as const) {
      if (env[name]) bad(name, env[name], 'needs SMTP_HOST (or put the port and scheme in SMTP_URL)');
    }
  } else {
    if (smtpUrl) bad('SMTP_HOST', host, 'set either SMTP_URL or SMTP_HOST, not both');
    if (!/^[A-Za-z0-9._:[\]-]{1,253}$/.test(host)) bad('SMTP_HOST', host, 'not a host name or address');
    if (flag && !['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off'].includes(flag)) bad('SMTP_SECURE', env.SMTP_SECURE!, 'expected true or false');
  }
  const user = env.SMTP_USER || '';
  const password = env.SMTP_PASSWORD || '';
  if (/[\r\n\0]/.test(user)) bad('SMTP_USER', user, 'contains a line break');
  if (/[\r\n\0]/.test(password)) throw new UnavailableError('SMTP_PASSWORD has a bad value: it contains a line break');
  if (password && !user) throw new UnavailableError('SMTP_PASSWORD is set but SMTP_USER is not');
  if (user && !host && !smtpUrl) bad('SMTP_USER', user, 'needs SMTP_URL or SMTP_HOST');
  let smtpServer: SmtpServerConfig | null = null;
  if (host) {
    const port = integer('SMTP_PORT', env.SMTP_PORT, flag && ['1', 'true', 'yes', 'on'].includes(flag) ? 465 : 587, 1, 65535);
    smtpServer = { host, port, secure: flag ? ['1', 'true', 'yes', 'on'].includes(flag) : port === 465 };
  }
  return { smtpServer, smtpAuth: user ? { user, password } : null };
}

const DURATION_UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** '24h', '7d', '90m', '2w' or '30s' in milliseconds; null when it does not parse. */
export function parseDuration(text: string): number | null {
  const match = /^\s*(\d{1,9})\s*([smhdw])\s*$/i.exec(text);
  if (!match) return null;
  return Number(match[1]) * DURATION_UNITS[match[2].toLowerCase()];
}

function duration(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = parseDuration(value);
  if (ms === null || ms === 0) bad(name, value, 'expected a duration like 24h, 7d or 2w');
  return ms;
}

function boolean(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return bad(name, value, 'expected true or false');
}

const TRUST_PROXY_HELP = 'give the number of proxies in front of ctl serve (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8)';

/** One address or CIDR range: 10.0.0.1, 10.0.0.0/8, ::1, fd00::/8. */
function isAddressOrRange(text: string): boolean {
  const [address, bits, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * CTL_TRUST_PROXY. "true" used to trust every proxy: the client's own leftmost X-Forwarded-For
 * entry became its address, and the per-address login limit counted made-up addresses. It is
 * refused, with what to write instead.
 */
function trustProxy(value: string | undefined): TrustProxy {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || ['0', 'false', 'no', 'off'].includes(v)) return false;
  if (['true', 'yes', 'on', 'all', '*'].includes(v)) {
    bad('CTL_TRUST_PROXY', value!, `trusting every proxy lets a client choose its own address; ${TRUST_PROXY_HELP}`);
  }
  if (/^\d+$/.test(v)) return integer('CTL_TRUST_PROXY', v, 0, 1, 20);
  const list = v.split(',').map((part) => part.trim());
  for (const part of list) if (!isAddressOrRange(part)) bad('CTL_TRUST_PROXY', value!, `"${part}" is not an address or CIDR range; ${TRUST_PROXY_HELP}`);
  return list;
}

function serveConfig(env: Env): ServeConfig {
  const host = env.CTL_SERVE_HOST || '127.0.0.1';
  if (!/^[A-Za-z0-9.:[\]-]{1,253}$/.test(host)) bad('CTL_SERVE_HOST', host, 'not a host name or address');
  const termsVersion = env.CTL_TERMS_VERSION || '1.0';
  if (!/^[\x21-\x7e]{1,64}$/.test(termsVersion)) bad('CTL_TERMS_VERSION', termsVersion, 'expected 1-64 visible ASCII characters');
  const currency = env.CTL_BALANCE_CURRENCY || 'USD';
  if (!/^[A-Z]{3}$/.test(currency)) bad('CTL_BALANCE_CURRENCY', currency, 'expected a three-letter ISO 4217 code');
  return {
    port: integer('CTL_SERVE_PORT', env.CTL_SERVE_PORT, 3080, 0, 65535),
    host,
    requireConfirmation: boolean('CTL_REQUIRE_CONFIRMATION', env.CTL_REQUIRE_CONFIRMATION, false),
    registrationsOpen: boolean('CTL_REGISTRATIONS_OPEN', env.CTL_REGISTRATIONS_OPEN, false),
    allowAccountDeletion: boolean('CTL_ALLOW_ACCOUNT_DELETION', env.CTL_ALLOW_ACCOUNT_DELETION, true),
    termsVersion,
    sessionTtlMs: duration('CTL_SESSION_TTL', env.CTL_SESSION_TTL, 7 * 86400e3),
    refreshTtlMs: duration('CTL_REFRESH_TTL', env.CTL_REFRESH_TTL, 7 * 86400e3),
    loginMaxFailures: integer('CTL_LOGIN_MAX_FAILURES', env.CTL_LOGIN_MAX_FAILURES, 5, 1, 1000),
    loginMaxFailuresPerAddress: integer('CTL_LOGIN_MAX_FAILURES_PER_ADDRESS', env.CTL_LOGIN_MAX_FAILURES_PER_ADDRESS, 20, 1, 100000),
    loginWindowMs: duration('CTL_LOGIN_WINDOW', env.CTL_LOGIN_WINDOW, 15 * 60e3),
    verifyResendIntervalMs: duration('CTL_VERIFY_RESEND_INTERVAL', env.CTL_VERIFY_RESEND_INTERVAL, 60e3),
    avatarMaxBytes: integer('CTL_AVATAR_MAX_BYTES', env.CTL_AVATAR_MAX_BYTES, 2 * 1024 * 1024, 1024, 50 * 1024 * 1024),
    currency,
    trustProxy: trustProxy(env.CTL_TRUST_PROXY),
    activeWindowMs: duration('CTL_ACTIVE_WINDOW', env.CTL_ACTIVE_WINDOW, 30 * 86400e3),
  };
}

export interface ConfigOverrides {
  readonly databaseUrl?: string;
}

/** Reads and checks every setting; a bad one is exit 6 naming the variable, before any work. */
export function loadConfig(rawEnv: Env = process.env, overrides: ConfigOverrides = {}): Config {
  const projectRoot = findProjectRoot();
  const env = effectiveEnv(rawEnv, projectRoot);
  // An empty URL is a runbook's unset variable, never a request for the embedded database: falling
  // back would create users and links in a throwaway local database.
  if (overrides.databaseUrl === '')
    throw new UsageError('--database-url is empty: give a PostgreSQL URL, or leave the option out to use the embedded database');
  if (overrides.databaseUrl === undefined && env.DATABASE_URL === '') {
    throw new UnavailableError('DATABASE_URL is set but empty: give a PostgreSQL URL, or unset it (and remove it from .env) to use the embedded database');
  }
  const databaseUrl =
    overrides.databaseUrl !== undefined
      ? url('--database-url', overrides.databaseUrl, ['postgres:', 'postgresql:'])
      : url('DATABASE_URL', env.DATABASE_URL, ['postgres:', 'postgresql:']);
  // The same for the embedded database's directory: an unset variable in `CTL_DATA_DIR=$DIR ctl …`
  // would otherwise open (or create) the project's .ctl-data, another database than meant.
  if (databaseUrl === null && env.CTL_DATA_DIR === '') {
    throw new UnavailableError('CTL_DATA_DIR is set but empty: give the embedded database directory, or unset it to use .ctl-data in the project');
  }
  const appUrl = url('APP_URL', env.APP_URL, ['http:', 'https:']) ?? 'http://localhost:3080';
  const smtpUrl = url('SMTP_URL', env.SMTP_URL, ['smtp:', 'smtps:']);
  const mailFrom = env.MAIL_FROM || 'userctl <no-reply@localhost>';
  if (/[\r\n\0]/.test(mailFrom)) bad('MAIL_FROM', mailFrom, 'contains a line break');
  const smtp = smtpSettings(env, smtpUrl);
  return {
    projectRoot,
    databaseUrl,
    databaseUrlFromOption: overrides.databaseUrl !== undefined,
    dataDir: path.resolve(projectRoot, env.CTL_DATA_DIR || '.ctl-data'),
    appUrl: appUrl.replace(/\/+$/, ''),
    smtpUrl,
    mailFrom,
    ...smtp,
    retentionDays: integer('CTL_RETENTION_DAYS', env.CTL_RETENTION_DAYS, 90, 0, 36500),
    passwordResetTtlMs: duration('CTL_PASSWORD_RESET_TTL', env.CTL_PASSWORD_RESET_TTL, 86400e3),
    confirmationTtlMs: duration('CTL_CONFIRMATION_TTL', env.CTL_CONFIRMATION_TTL, 7 * 86400e3),
    bcryptCost: integer('CTL_BCRYPT_COST', env.CTL_BCRYPT_COST, 12, 4, 15),
    lockWaitMs: integer('CTL_LOCK_WAIT_MS', env.CTL_LOCK_WAIT_MS, 5000, 0, 600000),
    ...batchSizing(env.CTL_BATCH_SIZE),
    actor: env.SUDO_USER || env.USER || env.LOGNAME || currentUser(),
    serve: serveConfig(env),
    sso: ssoSettings(env),
  };
}
