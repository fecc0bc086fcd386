import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { createTestDatabase, libContext, TEST_SETTINGS, type TestDatabase } from '../helpers/backend';
import { runCtl, type CtlResult } from '../helpers/cli';
import { loadConfig, redactUrl } from '../../lib/config';
import { hashToken, sameHash } from '../../lib/tokens/secrets';
import { createUser, planNewUser } from '../../lib/user/new';
import { login, LoginThrottle, LoginFailedError } from '../../lib/auth/login';
import { costOf } from '../../lib/auth/passwords';
import { UnavailableError } from '../../lib/errors';
import { dumpAll } from './helpers/fingerprint';
import { tally } from './helpers/tally';

// node:crypto's own timingSafeEqual cannot be spied on (not configurable): wrap it instead.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});

// Secrets: no raw password or token in the database, the audit log, stderr, an error message, or
// the stdout of a verb that did not just create it; tokens compared in constant time; bcrypt cost
// configurable and raised at login; passwords on the command line warned about.

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb?.destroy());

const ctl = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) => runCtl(tdb, args, opts);

/** The token at the end of a printed link (`.../password_reset/<token>`, `.../registration/<token>`). */
function tokenIn(text: string, page: string): string {
  const m = new RegExp(`/${page}/([A-Za-z0-9_-]{20,})`).exec(text);
  if (!m) throw new Error(`no ${page} link in ${JSON.stringify(text)}`);
  return m[1];
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe('passwords and tokens never leak', () => {
  const runs: { args: string[]; r: CtlResult; creates: string[] }[] = [];
  const secrets: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-secrets-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function step(args: string[], opts: { input?: string; env?: Record<string, string> } = {}, creates: (r: CtlResult) => string[] = () => []) {
    const r = await ctl(args, opts);
    const made = creates(r);
    secrets.push(...made);
    runs.push({ args, r, creates: made });
    return r;
  }

  beforeAll(async () => {
    const file = path.join(dir, 'pw');
    fs.writeFileSync(file, 'Pw-carol-Secret-3\n', { mode: 0o600 });
    secrets.push('Pw-alice-Secret-1', 'Pw-bob-Secret-2', 'Pw-carol-Secret-3', 'Pw-alice-Secret-4');
    await step(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'Pw-alice-Secret-1']);
    await step(['user', 'new', 'bob', 'bob@example.com', '-y', '--password-stdin'], { input: 'Pw-bob-Secret-2\n' });
    await step(['user', 'new', 'carol', 'carol@example.com', '-y', '--password-file', file]);
    await step(['user', 'reset_password', 'alice', '--password-stdin'], { input: 'Pw-alice-Secret-4\n' });
    await step(['user', 'new', 'dan', 'dan@example.com', '-y'], {}, (r) => [tokenIn(r.stdout, 'password_reset')]);
    await step(['user', 'reset_password', 'bob', '--skip-email'], {}, (r) => [tokenIn(r.stdout, 'password_reset')]);
    await step(['user', 'reset_password', 'carol', '--random-password'], {}, (r) => [/^Password: (\S+)$/m.exec(r.stdout)![1]]);
    await step(['user', 'invite', '--max-use', '3'], {}, (r) => [tokenIn(r.stdout, 'registration')]);
    await step(['user', 'invite', '--json'], {}, (r) => [JSON.parse(r.stdout).token]);
    await step(['user', 'new', 'erin', 'erin@example.com', '-y', '--no-confirmed', '--json'], {}, (r) => {
      const out = JSON.parse(r.stdout);
      return [out.passwordResetUrl, out.confirmationUrl].filter(Boolean).map((u: string) => u.slice(u.lastIndexOf('/') + 1));
    });
    // Refusals that are about a secret must not quote it.
    await step(['user', 'new', 'frank', 'frank@example.com', '-y', '--password-stdin'], { input: 'Pw7\n' });
    await step(['user', 'new', 'gina', 'gina@example.com', '-y', '--password-stdin'], { input: `Pw-${'long'.repeat(20)}\n` });
    await step(['user', 'reset_password', 'nobody', '--password-stdin'], { input: 'Pw-nobody-Secret-5\n' });
    secrets.push('Pw7', `Pw-${'long'.repeat(20)}`, 'Pw-nobody-Secret-5');
    // Read verbs afterwards: none of them may show a secret or a stored hash.
    for (const args of [
      ['user', 'list', '--all', '--format', 'ndjson'],
      ['user', 'list', '--all', '--format', 'csv'],
      ['user', 'list', '--all'],
      ['user', 'show', 'dan', '--json'],
      ['user', 'show', 'alice'],
      ['user', 'invites', '--all', '--json'],
      ['user', 'invites', '--all'],
      ['audit', 'list', '--format', 'ndjson'],
      ['audit', 'list'],
      ['user', 'count', '--json'],
    ])
      await step(args);
    tally('inputs', runs.length);
  }, 120000);

  test('every run did what it should (so the checks below look at real output)', () => {
    const codes = runs.map(({ args, r }) => `${args.slice(0, 3).join(' ')} -> ${r.code}`);
    expect(codes.filter((c) => !c.endsWith('-> 0'))).toEqual(['user new frank -> 2', 'user new gina -> 2', 'user reset_password nobody -> 3']);
    expect(secrets.filter((s) => typeof s !== 'string' || s.length < 3)).toEqual([]);
    expect(secrets.length).toBeGreaterThanOrEqual(13);
  });

  test('the database (every table, audit log included) holds no raw secret; tokens only as their SHA-256', async () => {
    const dump = await tdb.withDb(({ db }) => dumpAll(db));
    for (const s of secrets) expect({ secret: s, found: dump.includes(s) }).toEqual({ secret: s, found: false });
    for (const r of runs.flatMap((x) => x.creates)) {
      if (!r.startsWith('Pw') && /^[A-Za-z0-9_-]{40,}$/.test(r)) expect(dump).toContain(hashToken(r));
    }
    expect(dump).toMatch(/\$2[aby]\$04\$/); // the passwords are there, as bcrypt hashes
  });

  test('stderr and error messages never hold a secret; stdout only of the run that created it, once', () => {
    for (const { args, r, creates } of runs) {
      for (const s of secrets) {
        expect({ args, stream: 'stderr', secret: s, found: r.stderr.includes(s) }).toEqual({ args, stream: 'stderr', secret: s, found: false });
        const expected = creates.includes(s) ? 1 : 0;
        // A link may be printed once as URL and once in JSON; the raw token never elsewhere.
        const n = Math.min(occurrences(r.stdout, s), 1);
        expect({ args, stream: 'stdout', secret: s, n }).toEqual({ args, stream: 'stdout', secret: s, n: expected });
      }
    }
  });

  test('no verb prints a stored hash (password, token, invite or MFA backup code)', async () => {
    const hashes = await tdb.withDb(async ({ db }) =>
      [
        ...(await db.selectFrom('users').select('password_hash').execute()).map((u) => u.password_hash),
        ...(await db.selectFrom('tokens').select('token_hash').execute()).map((t) => t.token_hash),
        ...(await db.selectFrom('invites').select('token_hash').execute()).map((t) => t.token_hash),
      ].filter((h): h is string => h !== null),
    );
    expect(hashes.length).toBeGreaterThan(8);
    for (const { args, r } of runs) for (const h of hashes) expect({ args, leaked: (r.stdout + r.stderr).includes(h) }).toEqual({ args, leaked: false });
  });

  test('--password works but warns that it is visible in the process table', () => {
    const first = runs[0];
    expect(first.r.code).toBe(0);
    expect(first.r.stderr).toContain(
      'warning: --password is visible to every user of this machine in the process table; use --password-stdin or --password-file\n',
    );
    expect(runs[1].r.stderr).not.toContain('warning');
  });
});

describe('a password in DATABASE_URL or SMTP_URL never reaches a message', () => {
  // Passwords from characters that break URL parsing ('@', '/', '#', '?', ' ', '%'), between two
  // markers: a leak of any part of one shows up as 'Pw' or 'Zq' in the message.
  const password = fc.string({ unit: fc.constantFrom(...'abcXYZ019@/:#?&% !$'.split('')), minLength: 1, maxLength: 16 }).map((s) => `Pw${s}Zq`);
  const shapes: ((p: string) => string)[] = [
    (p) => `postgres://admin:${p}@db.example:5432/app`,
    (p) => `postgres://admin:${p}@db.example:abc/app`,
    (p) => `postgres://admin:${p}@db.example:99999/app`,
    (p) => `postgresql://admin:${p}@/app`,
    (p) => `mysql://admin:${p}@db.example/app`,
    (p) => `postgres://admin:${p}@db example/app`,
    (p) => `postgres://db.example:5432/app?sslmode=require&password=${encodeURIComponent(p)}`,
    (p) => `postgres://db.example:x/app?password=${encodeURIComponent(p)}&sslmode=require`,
    (p) => `postgres://admin:${encodeURIComponent(p)}@db.example/app`,
  ];

  test('not in the bad-setting message (exit 6) nor in the "cannot reach" location', () => {
    let n = 0;
    fc.assert(
      fc.property(password, fc.nat(shapes.length - 1), (p, i) => {
        n += 1;
        const url = shapes[i](p);
        // The same for SMTP_URL, the other setting that carries a password.
        for (const [name, value] of [
          ['DATABASE_URL', url],
          ['SMTP_URL', url.replace(/^[a-z]+:/, 'smtp:')],
        ]) {
          let message: string;
          try {
            loadConfig({ [name]: value, CTL_ENV_FILE: '' });
            message = redactUrl(value);
          } catch (error) {
            expect(error).toBeInstanceOf(UnavailableError);
            message = (error as Error).message;
          }
          const leaked = ['Pw', 'Zq', encodeURIComponent(p)].filter((m) => message.includes(m));
          if (leaked.length) throw new Error(`${name}=${JSON.stringify(value)} -> ${JSON.stringify(message)}`);
        }
      }),
      { numRuns: 600, seed: 7 },
    );
    tally('inputs', n);
  });

  test('through bin/ctl: a bad URL and an unreachable one, exit 6, password redacted', async () => {
    const bad = await runCtl(null, ['user', 'list'], { env: { DATABASE_URL: 'postgres://admin:Pw@secretZq@127.0.0.1:abc/app' } });
    expect(bad).toMatchObject({ code: 6, stdout: '', stderr: 'DATABASE_URL has a bad value "postgres://admin:***@127.0.0.1:abc/app": not a URL\n' });
    const away = await runCtl(null, ['user', 'list'], { env: { DATABASE_URL: 'postgres://127.0.0.1:1/app?password=PwsecretZq' } });
    expect(away).toMatchObject({
      code: 6,
      stdout: '',
      stderr: 'cannot reach the database at postgres://127.0.0.1:1/app?password=***: connect ECONNREFUSED 127.0.0.1:1\n',
    });
    tally('inputs', 2);
  });
});

describe('hashing and comparison', () => {
  test('bcrypt cost: 12 by default, CTL_BCRYPT_COST sets it (4-15), anything else is exit 6 naming it', async () => {
    expect(loadConfig({ CTL_ENV_FILE: '' }).bcryptCost).toBe(12);
    expect(loadConfig({ CTL_ENV_FILE: '', CTL_BCRYPT_COST: '13' }).bcryptCost).toBe(13);
    for (const bad of ['3', '16', 'ten', '12.5']) expect(() => loadConfig({ CTL_ENV_FILE: '', CTL_BCRYPT_COST: bad })).toThrow(UnavailableError);
    const r = await ctl(['user', 'new', 'hank', 'hank@example.com', '-y', '--password-stdin'], { input: 'Pw-hank-Secret\n', env: { CTL_BCRYPT_COST: '5' } });
    expect(r.code).toBe(0);
    const hash = await tdb.withDb(
      async ({ db }) => (await db.selectFrom('users').select('password_hash').where('nickname', '=', 'hank').executeTakeFirstOrThrow()).password_hash,
    );
    expect(hash).toMatch(/^\$2[aby]\$05\$/);
    const refused = await ctl(['user', 'list'], { env: { CTL_BCRYPT_COST: '99' } });
    expect(refused).toMatchObject({ code: 6, stderr: 'CTL_BCRYPT_COST has a bad value "99": must be between 4 and 15\n' });
  });

  test('a login re-hashes an old hash when the configured cost has risen; a wrong password changes nothing', async () => {
    await tdb.withDb(async (h) => {
      const ctx = libContext(h);
      await createUser(ctx, planNewUser({ nickname: 'ivy', email: 'ivy@example.com', password: 'Pw-ivy-Secret' }), TEST_SETTINGS);
      const stored = async () =>
        (await h.db.selectFrom('users').select('password_hash').where('nickname', '=', 'ivy').executeTakeFirstOrThrow()).password_hash!;
      const before = await stored();
      expect(costOf(before)).toBe(4);
      const throttle = new LoginThrottle({ maxPerAccount: 100, maxPerAddress: 100, windowMs: 60000 });
      const settings = { bcryptCost: 5, sessionTtlMs: 3600e3, requireConfirmation: false };
      await expect(login(ctx, settings, throttle, { login: 'ivy', password: 'wrong-password', address: '127.0.0.1' })).rejects.toThrow(LoginFailedError);
      expect(await stored()).toBe(before);
      const session = await login(ctx, settings, throttle, { login: 'ivy', password: 'Pw-ivy-Secret', address: '127.0.0.1' });
      const after = await stored();
      expect(costOf(after)).toBe(5);
      expect(after).not.toBe(before);
      // Same cost next time: not re-hashed again. The session token is stored as its hash only.
      await login(ctx, settings, throttle, { login: 'ivy', password: 'Pw-ivy-Secret', address: '127.0.0.1' });
      expect(await stored()).toBe(after);
      const tokens = await h.db.selectFrom('tokens').select('token_hash').where('kind', '=', 'access').execute();
      expect(tokens.map((t) => t.token_hash)).toContain(hashToken(session.token));
      expect(JSON.stringify(tokens)).not.toContain(session.token);
    });
  });

  test('token hashes are compared with crypto.timingSafeEqual, never with ===', () => {
    const spy = crypto.timingSafeEqual as unknown as jest.Mock;
    spy.mockClear();
    const a = hashToken('token-a');
    expect(sameHash(a, hashToken('token-a'))).toBe(true);
    expect(sameHash(a, hashToken('token-b'))).toBe(false);
    expect(sameHash(a, a.slice(0, 10))).toBe(false);
    expect(spy).toHaveBeenCalledTimes(2);
    // Everywhere else a token is found by its hash in an index, so no comparison in JavaScript ever
    // sees a raw token: no `===` against anything named token, code, secret or hash in lib/.
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          fs.readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (
                /\b\w*(token|secret|code|hash)\w*\b\s*[!=]==\s*(?!null\b|undefined\b|'|"|`|\d)[\w.]+|[\w.]+\s*[!=]==\s*\b\w*(token|secret|hash)\b(?!\s*\.)/i.test(
                  line,
                ) &&
                !/typeof|\.length|kind|status|===\s*null|null\s*===/.test(line)
              ) {
                offenders.push(`${path.relative(process.cwd(), p)}:${i + 1}: ${line.trim()}`);
              }
            });
        }
      }
    };
    walk(path.join(__dirname, '..', '..', 'lib'));
    // Allowed: comparisons between two stored hashes (no user input on either side).
    const allowed = [/^lib\/auth\/mfa\.ts:\d+: \.set\(\{ mfa_backup_codes: user\.mfa_backup_codes\.filter\(\(h\) => h !== hash\) \}\)/];
    expect(offenders.filter((o) => !allowed.some((a) => a.test(o)))).toEqual([]);
  });
});
