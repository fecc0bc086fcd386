import * as fs from 'node:fs';
import * as path from 'node:path';
import { UnavailableError } from './errors';

/** Every setting, read once. The only module that looks at process.env. */
export interface Config {
  readonly projectRoot: string;
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly appUrl: string;
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  readonly retentionDays: number;
  readonly passwordResetTtlMs: number;
  readonly confirmationTtlMs: number;
  readonly bcryptCost: number;
  readonly lockWaitMs: number;
  readonly batchSize: number;
  readonly actor: string;
}

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

/** Parses the KEY=value lines of a .env file: comments, blank lines, optional quotes, `export `. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2].replace(/\\n/g, '\n') : quoted[2];
    else value = value.replace(/\s+#.*$/, '');
    out[match[1]] = value;
  }
  return out;
}

/**
 * The environment merged over the project's .env file (sudo strips the environment, so runbooks
 * rely on the file). CTL_ENV_FILE names another file; an empty value means none.
 */
export function effectiveEnv(env: Env, projectRoot: string): Env {
  const file = env.CTL_ENV_FILE ?? path.join(projectRoot, '.env');
  if (!file) return env;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return env;
  }
  const merged: Record<string, string | undefined> = { ...parseDotenv(text) };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) merged[key] = value;
  return merged;
}

function bad(name: string, value: string, why: string): never {
  throw new UnavailableError(`${name} has a bad value ${JSON.stringify(redactUrl(value))}: ${why}`);
}

/** Drops the password from a URL so it can appear in a message. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
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

export interface ConfigOverrides {
  readonly databaseUrl?: string;
}

/** Reads and checks every setting; a bad one is exit 6 naming the variable, before any work. */
export function loadConfig(rawEnv: Env = process.env, overrides: ConfigOverrides = {}): Config {
  const projectRoot = findProjectRoot();
  const env = effectiveEnv(rawEnv, projectRoot);
  const databaseUrl = overrides.databaseUrl !== undefined
    ? url('--database-url', overrides.databaseUrl, ['postgres:', 'postgresql:'])
    : url('DATABASE_URL', env.DATABASE_URL, ['postgres:', 'postgresql:']);
  const appUrl = url('APP_URL', env.APP_URL, ['http:', 'https:']) ?? 'http://localhost:3080';
  const smtpUrl = url('SMTP_URL', env.SMTP_URL, ['smtp:', 'smtps:']);
  const mailFrom = env.MAIL_FROM || 'userctl <no-reply@localhost>';
  if (/[\r\n\0]/.test(mailFrom)) bad('MAIL_FROM', mailFrom, 'contains a line break');
  return {
    projectRoot,
    databaseUrl,
    dataDir: path.resolve(projectRoot, env.CTL_DATA_DIR || '.ctl-data'),
    appUrl: appUrl.replace(/\/+$/, ''),
    smtpUrl,
    mailFrom,
    retentionDays: integer('CTL_RETENTION_DAYS', env.CTL_RETENTION_DAYS, 90, 0, 36500),
    passwordResetTtlMs: duration('CTL_PASSWORD_RESET_TTL', env.CTL_PASSWORD_RESET_TTL, 86400e3),
    confirmationTtlMs: duration('CTL_CONFIRMATION_TTL', env.CTL_CONFIRMATION_TTL, 7 * 86400e3),
    bcryptCost: integer('CTL_BCRYPT_COST', env.CTL_BCRYPT_COST, 12, 4, 15),
    lockWaitMs: integer('CTL_LOCK_WAIT_MS', env.CTL_LOCK_WAIT_MS, 5000, 0, 600000),
    batchSize: integer('CTL_BATCH_SIZE', env.CTL_BATCH_SIZE, 5000, 1, 1000000),
    actor: env.SUDO_USER || env.USER || env.LOGNAME || 'unknown',
  };
}
