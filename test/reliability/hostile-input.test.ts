import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { sql } from 'kysely';
import { BACKEND, createTestDatabase, truncateAll, type TestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';
import type { DbHandle } from '../../lib/db/db';
import { runInProcess, type InProcessResult } from './helpers/inproc';
import { fingerprint } from './helpers/fingerprint';
import { planNewUser } from '../../lib/user/new';
import { listUsers } from '../../lib/user/list';
import { UsageError } from '../../lib/errors';
import { normalizeTag } from '../../lib/validate';
import { tally } from './helpers/tally';

// Hostile input: random argument vectors and field values through the real parser and verbs.
// Most runs go through tasks/runner/main.ts `main` in this process (the code bin/ctl runs, with a NUL
// byte possible, which argv cannot carry), on one shared open database so thousands of runs fit
// in CI; a sample goes through the real bin/ctl. Never exit 1, never a stack trace, never a
// write on a rejected input, and what is stored reads back byte for byte.

// Reuse one open database for every in-process run (opening PGlite costs ~0.5 s); `close` is a
// no-op for them. Everything else, the test's own handle included, opens as usual.
let mockShared: DbHandle | null = null;
jest.mock('../../lib/db/db', () => {
  const actual = jest.requireActual('../../lib/db/db');
  return {
    ...actual,
    openDatabase: async (opts: unknown) => (mockShared ? { ...mockShared, close: async () => undefined } : actual.openDatabase(opts)),
  };
});

const RUNS = Number(process.env.CTL_RELIABILITY_RUNS ?? 400);
/**
 * Fixed seeds by default, so CI is reproducible; CTL_RELIABILITY_SEED=random explores new inputs
 * (fast-check prints the seed of a failure), CTL_RELIABILITY_SEED=N replays one.
 */
const SEED = process.env.CTL_RELIABILITY_SEED === 'random' ? undefined : Number(process.env.CTL_RELIABILITY_SEED ?? 20261122);
const FC = { seed: SEED, endOnFailure: Boolean(process.env.CTL_RELIABILITY_NO_SHRINK) };

let tdb: TestDatabase;
let h: DbHandle;
beforeAll(async () => {
  tdb = await createTestDatabase();
  h = await tdb.open();
  mockShared = h;
});
afterAll(async () => {
  mockShared = null;
  await h?.close();
  await tdb?.destroy();
});

const run = (args: readonly string[], opts: { input?: string } = {}) => runInProcess(tdb, args, opts);

/** A stack frame, or the runner's wording for an internal error. */
const STACK = /\n\s+at .+[:(]\d+|internal error|TypeError|ReferenceError|SyntaxError|RangeError/;

// -------------------------------------------------------------------------------------------
// Generators

const NASTY = [
  "'; DROP TABLE users; --",
  '" OR 1=1 --',
  "' OR ''='",
  '%',
  '_',
  '%_%',
  '\\',
  '\\\\',
  '$1',
  '$$; SELECT 1; $$',
  "x' || pg_sleep(5) || '",
  'a\'b"c`d',
  "Robert'); DROP TABLE students;--",
  '\u202Eevil.exe',
  'abc\u202Edef',
  '\u200F\u200E',
  '\u0000',
  'x\u0000y',
  'nul\u0000@example.com',
  '\u001b[31mred\u001b[0m',
  '\u0007bell',
  '\r\n',
  'a\nb',
  '\t',
  ' ',
  '',
  '  lead',
  '2019-02-30',
  '2019-13-01',
  '0000-00-00',
  '9999-12-31',
  '2024-02-29',
  '1970-01-01T00:00:00Z',
  'yesterday',
  '-1',
  '0',
  '1e309',
  'NaN',
  'Infinity',
  '-Infinity',
  '0x10',
  '0b11',
  '1_000',
  '99999999999999999999',
  '3.5',
  '--',
  '-',
  '-y',
  '--json',
  '--no-admin',
  'null',
  'undefined',
  'true',
  'false',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '😀',
  '👩‍👩‍👧‍👦',
  'é',
  'e\u0301',
  'ｆｕｌｌ',
  '\uFEFFbom',
  '\u0085',
  '\u2028',
  'ß',
  'İ',
  'ǅ',
  'a@b',
  'alice',
  'ALICE',
  'alice@example.com',
  'Alice@Example.COM',
  '@example.com',
  'user@',
  'user@@example.com',
  'a@b@c.com',
  '"q"@example.com',
  "'quoted'",
  '"quoted"',
  '\\"',
  'x'.repeat(65),
  'x'.repeat(257),
  'x'.repeat(5001),
  'y'.repeat(10000),
  `${'a'.repeat(64)}@${'b'.repeat(63)}.com`,
];

const base = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }).map((s) => `${s}@example.com`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NASTY), fc.constantFrom(...NASTY)).map(([a, b]) => a + b) },
);

/** Characters that break things when they get through: NUL, terminal escapes, bidi overrides, a lone surrogate. */
const POISON = ['\u0000', '\u001b[2J', '\u001b]0;owned\u0007', '\u202e', '\u2066', '\ud800', '\udfff', '\r', '\u0085', '\u009b', '\u007f'];

const text = fc.oneof(
  { weight: 3, arbitrary: base },
  {
    weight: 1,
    arbitrary: fc.tuple(base, fc.constantFrom(...POISON), fc.nat()).map(([s, p, i]) => {
      const at = i % (s.length + 1);
      return s.slice(0, at) + p + s.slice(at);
    }),
  },
);

/** Flags each verb knows (and some it does not), each with or without a value. */
const FLAGS: Record<string, readonly string[]> = {
  new: ['--name', '--bio', '--admin', '--no-admin', '--moderator', '--confirmed', '--no-confirmed', '--password', '--password-stdin', '--skip-email'],
  list: [
    '--admin',
    '--no-admin',
    '--moderator',
    '--active',
    '--deactivated',
    '--confirmed',
    '--unconfirmed',
    '--local',
    '--remote',
    '--all',
    '--tag',
    '--deleted',
    '--search',
    '--limit',
  ],
  show: [],
  stats: [],
};
const COMMON = ['--json', '--format', '--dry-run', '-y', '-q', '--actor', '--reason', '--frobnicate', '-Z', '--no-json'];

const option = (verb: string) =>
  fc.oneof(
    fc.constantFrom(...FLAGS[verb], ...COMMON).map((f) => [f]),
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...(FLAGS[verb].length ? FLAGS[verb] : COMMON)), text).map(([f, v]) => [f, v]) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...(FLAGS[verb].length ? FLAGS[verb] : COMMON)), text).map(([f, v]) => [`${f}=${v}`]) },
    fc.tuple(fc.constantFrom('--actor', '--reason', '--format'), text).map(([f, v]) => [f, v]),
    fc.constantFrom(['--format', 'json'], ['--format', 'csv'], ['--format', 'ndjson'], ['--format', 'xml'], ['--limit', '2'], ['--json']),
  );

const argv = fc
  .constantFrom('new', 'list', 'show', 'stats')
  .chain((verb) =>
    fc
      .tuple(fc.array(text, { maxLength: 3 }), fc.array(option(verb), { maxLength: 4 }), fc.boolean())
      .map(([positionals, options, yes]) => ['user', verb, ...positionals, ...options.flat(), ...(yes ? ['-y'] : [])]),
  );

// -------------------------------------------------------------------------------------------

/** What must never reach a terminal from a stored or typed value: C0/C1 controls (but newline and tab), DEL, bidi overrides. */
const TERMINAL_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function checkRun(args: readonly string[], r: InProcessResult): void {
  const where = `for ${JSON.stringify(args).slice(0, 300)}: ${JSON.stringify(r).slice(0, 600)}`;
  if (![0, 2, 3, 4, 5].includes(r.code)) throw new Error(`exit ${r.code} ${where}`);
  if (STACK.test(r.stderr) || STACK.test(r.stdout)) throw new Error(`stack trace or internal error ${where}`);
  if (TERMINAL_UNSAFE.test(r.stderr)) throw new Error(`a control character on stderr ${where}`);
  // Human output (table format) is for a terminal too; JSON, NDJSON and CSV are data, as stored.
  const human = !args.some((a) => a === '--json' || a.startsWith('--format') || a.startsWith('--json='));
  if (human && TERMINAL_UNSAFE.test(r.stdout)) throw new Error(`a control character on stdout ${where}`);
  if (r.code !== 0) {
    const lines = r.stderr.replace(/\n$/, '').split('\n');
    // Warnings (e.g. about --password) may come first; the error itself is one line.
    if (lines[lines.length - 1].trim() === '') throw new Error(`no error message ${where}`);
  }
}

describe('random argument vectors for new, list and show', () => {
  beforeAll(() => truncateAll(h));

  test('never exit 1, never a stack trace, nothing written unless the run succeeded', async () => {
    await h.db
      .insertInto('users')
      .values({ nickname: 'alice', email: 'alice@example.com', name: 'Alice', tags: ['staff'] })
      .execute();
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        tried += 1;
        const before = await fingerprint(h.db);
        const r = await run(args, { input: 'stdin-password-123\n' });
        checkRun(args, r);
        const after = await fingerprint(h.db);
        const wrote = JSON.stringify(before) !== JSON.stringify(after);
        const created = r.code === 0 && args[1] === 'new' && !args.includes('--dry-run');
        if (wrote !== created)
          throw new Error(`${wrote ? 'wrote' : 'did not write'} with exit ${r.code} for ${JSON.stringify(args).slice(0, 300)}: ${r.stderr.slice(0, 300)}`);
        if (created) {
          const users = Number(after.users.split(':')[0]) - Number(before.users.split(':')[0]);
          if (users !== 1) throw new Error(`created ${users} users for ${JSON.stringify(args)}`);
        }
      }),
      { ...FC, numRuns: RUNS },
    );
    tally('inputs', tried);
  });
});

/** Whether a boolean flag ends up set, as yargs reads it (`--f`, `--f true|false`, `--f=x`, `--no-f`; the last wins). */
function flagSet(args: readonly string[], flag: string): boolean {
  let on = false;
  args.forEach((a, i) => {
    if (a === `--${flag}`) on = args[i + 1] !== 'false';
    else if (a.startsWith(`--${flag}=`)) on = a.slice(flag.length + 3) === 'true';
    else if (a === `--no-${flag}`) on = false;
  });
  return on;
}

/** The other verbs, each with its flags; `<user>` verbs get a real user most of the time. */
const OTHER_VERBS: Record<string, { readonly user?: boolean; readonly flags: readonly string[]; readonly reads?: boolean }> = {
  set: {
    user: true,
    flags: ['--name', '--bio', '--email', '--admin', '--no-admin', '--moderator', '--confirmed', '--no-confirmed', '--locked', '--no-locked'],
  },
  tag: { user: true, flags: [] },
  untag: { user: true, flags: [] },
  activate: { user: true, flags: [] },
  deactivate: { user: true, flags: [] },
  confirm: { user: true, flags: [] },
  sign_out: { user: true, flags: [] },
  reset_mfa: { user: true, flags: [] },
  restore: { user: true, flags: [] },
  rm: { user: true, flags: ['--purge', '--skip-email', '--batch-size'] },
  delete_activities: { user: true, flags: ['--batch-size'] },
  reset_password: { user: true, flags: ['--password', '--password-stdin', '--random-password', '--skip-email'] },
  send_confirmation: { user: true, flags: ['--skip-email'] },
  invite: { flags: ['--expires-at', '--expires-in', '--max-use', '--email', '--name'] },
  invites: { flags: ['--all'], reads: true },
  revoke_invite: { flags: [] },
  count: { flags: ['--active-since'], reads: true },
  deactivate_all_from_instance: { flags: [] },
  confirm_all: { flags: ['--batch-size'] },
  unconfirm_all: { flags: ['--batch-size'] },
  purge_deleted: { flags: ['--older-than', '--batch-size'] },
};
const DATES = [
  '2019-02-30',
  '2019-13-01',
  '2023-02-29',
  '2024-02-29',
  '2099-12-31',
  '1999-12-31',
  '7d',
  '0d',
  '-1d',
  '12h',
  '2w',
  '1y',
  '2024-05-01T25:00:00Z',
  '2024-05-01T12:00:00+02:00',
  'tomorrow',
];
const otherText = fc.oneof({ weight: 4, arbitrary: text }, { weight: 1, arbitrary: fc.constantFrom(...DATES) });

const otherArgv = fc.constantFrom(...Object.keys(OTHER_VERBS)).chain((verb) => {
  const spec = OTHER_VERBS[verb];
  const flags = spec.flags.length ? spec.flags : COMMON;
  const opt = fc.oneof(
    fc.constantFrom(...flags, ...COMMON).map((f) => [f]),
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...flags), otherText).map(([f, v]) => [f, v]) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...flags), otherText).map(([f, v]) => [`${f}=${v}`]) },
    fc.constantFrom(['--json'], ['--dry-run'], ['--format', 'csv']),
  );
  const who = spec.user
    ? fc
        .oneof({ weight: 3, arbitrary: fc.constantFrom('alice', 'bob', 'BOB@example.com', 'remote@far.example') }, { weight: 1, arbitrary: text })
        .map((u) => [u])
    : fc.constant([] as string[]);
  return fc
    .tuple(who, fc.array(otherText, { maxLength: verb === 'tag' || verb === 'untag' ? 3 : 1 }), fc.array(opt, { maxLength: 4 }), fc.boolean())
    .map(([u, positionals, options, yes]) => ['user', verb, ...u, ...positionals, ...options.flat(), ...(yes ? ['-y'] : [])]);
});

describe('random argument vectors for every other verb', () => {
  beforeAll(async () => {
    await truncateAll(h);
    await h.db
      .insertInto('users')
      .values([
        { nickname: 'root', email: 'root@example.com', name: 'Root', admin: true },
        { nickname: 'alice', email: 'alice@example.com', name: 'Alice', tags: ['staff'] },
        { nickname: 'bob', email: 'bob@example.com', name: 'Bob', confirmed: false },
        { nickname: 'remote@far.example', email: null, name: 'Remote', local: false },
      ])
      .execute();
  });

  test('never exit 1 or a stack trace; a refused or dry run writes nothing; a read verb never writes', async () => {
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(otherArgv, async (args) => {
        tried += 1;
        const before = await fingerprint(h.db);
        const r = await run(args, { input: 'stdin-password-123\n' });
        checkRun(args, r);
        const wrote = JSON.stringify(before) !== JSON.stringify(await fingerprint(h.db));
        const mayWrite = r.code === 0 && !flagSet(args, 'dry-run') && !OTHER_VERBS[args[1]].reads;
        if (wrote && !mayWrite) throw new Error(`wrote with exit ${r.code} for ${JSON.stringify(args).slice(0, 300)}: ${r.stderr.slice(0, 300)}`);
      }),
      { ...FC, numRuns: RUNS },
    );
    tally('inputs', tried);
  });
});

describe('field values read back byte for byte', () => {
  beforeAll(() => truncateAll(h));

  // Any Unicode text but NUL (PostgreSQL cannot store it: refused with exit 2, tested below),
  // within the limits (name 256, bio 5000 UTF-16 units).
  const field = (max: number) =>
    fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.constantFrom(...NASTY),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }).map((s) => s.repeat(Math.ceil(max / 8))),
      )
      .map((s) => s.replace(/\u0000/g, '').slice(0, max))
      // PGlite drops a leading U+FEFF when it reads text back (its bug, pinned by a failing test in
      // embedded-db.pglite.test.ts); a server keeps it, so only PGlite is spared that one input.
      .map((s) => (BACKEND === 'pglite' ? s.replace(/^\ufeff+/, '') : s));

  test('name and bio given as --name=VALUE come back from show --json, list --json and the database unchanged', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(field(256), field(5000), fc.boolean(), async (name, bio, separate) => {
        n += 1;
        const nick = `u${n}`;
        // `--name VALUE` cannot carry a value that starts with '-' (it reads as a flag), so that form is tried only for the others.
        const useSeparate = separate && !name.startsWith('-') && !bio.startsWith('-');
        const args = [
          'user',
          'new',
          nick,
          `${nick}@example.com`,
          '-y',
          '--json',
          ...(useSeparate ? ['--name', name, '--bio', bio] : [`--name=${name}`, `--bio=${bio}`]),
        ];
        const r = await run(args);
        checkRun(args, r);
        if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr} for ${JSON.stringify(args).slice(0, 300)}`);
        // A blank name is the nickname (lib/validate.ts nameOrNickname); any other comes back as given.
        const stored = name.trim() === '' ? nick : name;
        expect(JSON.parse(r.stdout)).toMatchObject({ nickname: nick, name: stored, bio });
        const shown = await run(['user', 'show', nick, '--json']);
        expect(shown.code).toBe(0);
        expect(JSON.parse(shown.stdout)).toMatchObject({ name: stored, bio });
        const listed = await run(['user', 'list', '--search', nick, '--format', 'ndjson', '--limit', '1']);
        expect(JSON.parse(listed.stdout.split('\n')[0])).toMatchObject({ nickname: nick, name: stored, bio });
        const { rows } = await sql<{ name: string; bio: string }>`
          SELECT encode(convert_to(name, 'UTF8'), 'hex') AS name, encode(convert_to(bio, 'UTF8'), 'hex') AS bio FROM users WHERE nickname = ${nick}`.execute(
          h.db,
        );
        expect(rows[0]).toEqual({ name: Buffer.from(stored, 'utf8').toString('hex'), bio: Buffer.from(bio, 'utf8').toString('hex') });
      }),
      { ...FC, numRuns: Math.ceil(RUNS / 2) },
    );
    tally('inputs', n);
  });

  test('hostile names, bios and tags through `import` (CSV and JSONL files): stored byte for byte, or the whole file refused with exit 2', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-import-'));
    let n = 0;
    const tag = fc.oneof(
      fc.constantFrom('staff', 'Beta', 'ünï', '😀', 'a"b', "o'k", '=cmd', 'x;y'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }),
    );
    const row = fc.record({ name: field(256), bio: field(5000), tags: fc.array(tag, { maxLength: 3 }) });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 4 }), fc.constantFrom('csv', 'jsonl'), async (rows, format) => {
          n += 1;
          const users = rows.map((r, i) => ({ nickname: `imp${n}x${i}`, email: `imp${n}x${i}@example.com`, ...r }));
          const file = path.join(dir, `u${n}.${format}`);
          const csv = (v: string) => `"${v.replace(/"/g, '""')}"`;
          fs.writeFileSync(
            file,
            format === 'jsonl'
              ? users.map((u) => JSON.stringify({ ...u, tags: u.tags })).join('\n')
              : `nickname,email,name,bio,tags\r\n${users.map((u) => [u.nickname, u.email, u.name, u.bio, u.tags.join(' ')].map(csv).join(',')).join('\r\n')}\r\n`,
          );
          const before = await fingerprint(h.db);
          const r = await run(['user', 'import', file, '--format', 'ndjson']);
          checkRun(['user', 'import', `(${format})`], r);
          if (r.code !== 0) {
            expect(r.code).toBe(2);
            expect(await fingerprint(h.db)).toEqual(before);
            return;
          }
          for (const u of users) {
            const shown = await run(['user', 'show', u.nickname, '--json']);
            const got = JSON.parse(shown.stdout);
            // A blank name (empty or only spaces, as spreadsheets leave them) means none: the nickname.
            expect({ name: got.name, bio: got.bio }).toEqual({ name: u.name.trim() === '' ? u.nickname : u.name, bio: u.bio });
            const tags = [
              ...new Set(
                u.tags
                  .flatMap((t) => (format === 'csv' ? t.split(/[\s,;]+/) : [t]))
                  .map((t) => t.trim().toLowerCase())
                  .filter(Boolean),
              ),
            ].sort();
            expect([...got.tags].sort()).toEqual(tags);
          }
        }),
        { ...FC, numRuns: Math.ceil(RUNS / 4) },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    tally('inputs', n);
  });

  test('a NUL byte in any argument is exit 2 before anything is opened; nothing is written', async () => {
    const cases = [
      ['user', 'new', 'zed', 'zed@example.com', '-y', '--name', 'a\u0000b'],
      ['user', 'new', 'zed', 'zed\u0000@example.com', '-y'],
      ['user', 'new', 'zed', 'zed@example.com', '-y', '--reason', 'why\u0000not'],
      ['user', 'list', '--search', 'a\u0000'],
      ['user', 'show', '\u0000'],
    ];
    for (const args of cases) {
      const before = await fingerprint(h.db);
      const r = await run(args);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
        code: 2,
        stdout: '',
        stderr: expect.stringMatching(/^an argument contains a NUL byte: "[^\n]*\\u0000[^\n]*"\n$/),
      });
      expect(await fingerprint(h.db)).toEqual(before);
    }
    tally('inputs', cases.length);
  });

  test('the library refuses what the database would store differently or not at all (for callers other than the CLI)', async () => {
    const bad: [() => unknown, string][] = [
      [() => planNewUser({ nickname: 'zed', email: 'zed@example.com', name: 'a\u0000b' }), 'the name contains a NUL byte'],
      [() => planNewUser({ nickname: 'zed', email: 'zed@example.com', bio: 'lone \ud800 surrogate' }), 'the bio is not valid Unicode (a lone surrogate)'],
      [() => planNewUser({ nickname: 'zed', email: 'zed@example.com', name: 'n'.repeat(257) }), 'the name is too long: 257 characters, at most 256'],
      [() => planNewUser({ nickname: 'zed', email: 'zed@example.com', bio: 'b'.repeat(10000) }), 'the bio is too long: 10000 characters, at most 5000'],
      [() => planNewUser({ nickname: 'zed', email: 'z\u0000d@example.com' }), 'invalid email "z\\u0000d@example.com"'],
      [() => planNewUser({ nickname: 'zed', email: 'z\u001b[2Jd@example.com' }), 'invalid email "z\\u001b[2Jd@example.com"'],
      [() => planNewUser({ nickname: 'zed', email: 'moc.\u202elive@example.com' }), 'invalid email "moc.\u202elive@example.com"'],
      [() => planNewUser({ nickname: 'zed', email: 'z\udc00@example.com' }), 'invalid email "z\\udc00@example.com"'],
      // jsonb (the audit row's details) refuses a lone surrogate: an internal error before.
      [() => normalizeTag('x\udfff'), 'invalid tag "x\\udfff": 1-64 characters, no spaces or commas'],
      [() => normalizeTag('\u202e'), 'invalid tag "\u202e": 1-64 characters, no spaces or commas'],
      [() => normalizeTag('a\u001bb'), 'invalid tag "a\\u001bb": 1-64 characters, no spaces or commas'],
    ];
    for (const [fn, message] of bad) {
      expect(fn).toThrow(UsageError);
      expect(fn).toThrow(message);
    }
    for (const filter of [{ search: 'a\u0000' }, { tag: '\u0000' }]) {
      await expect(listUsers(h.db, filter).next()).rejects.toThrow(new UsageError(`the ${filter.search ? 'search text' : 'tag'} contains a NUL byte`));
    }
    tally('inputs', bad.length + 2);
  });

  test('a repeated option is exit 2 (yargs would hand over an array, stored as \'{"a","b"}\'); variadic positionals still take many', async () => {
    const before = await fingerprint(h.db);
    const r = await run(['user', 'new', 'zed', 'zed@example.com', '-y', '--name', 'a', '--name', 'b']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: '--name was given more than once\n' });
    const l = await run(['user', 'list', '--limit', '1', '--limit', '2']);
    expect(l).toEqual({ code: 2, stdout: '', stderr: '--limit was given more than once\n' });
    expect(await fingerprint(h.db)).toEqual(before);
    const tags = await run(['user', 'tag', 'u1', 'a', 'b', 'c']);
    expect(tags).toMatchObject({ code: 0, stdout: 'Tags of u1: ["a", "b", "c"]\n' });
    tally('inputs', 3);
  });

  test('quotes around a value survive both --opt VALUE and --opt=VALUE', async () => {
    for (const [i, value] of ['"Jane"', "'Jane'", '"', "'", '""', `"it's"`].entries()) {
      for (const form of ['separate', 'joined']) {
        const nick = `q${i}${form[0]}`;
        const r = await run(['user', 'new', nick, `${nick}@example.com`, '-y', '--json', ...(form === 'joined' ? [`--name=${value}`] : ['--name', value])]);
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout).name).toBe(value);
      }
    }
    tally('inputs', 12);
  });
});

describe('the same through the real bin/ctl', () => {
  beforeAll(async () => {
    mockShared = null; // the spawned processes open the database themselves
    await h.close();
    await tdb.reset();
  });
  afterAll(async () => {
    h = await tdb.open();
    mockShared = h;
  });

  test('a sample of hostile argument vectors: exit 0, 2, 3, 4 or 5 with one error line, never a stack', async () => {
    // argv cannot hold a NUL byte; everything else goes as is.
    const samples = fc.sample(
      argv.filter((a) => !a.some((s) => s.includes('\u0000'))),
      { numRuns: 24, seed: 7 },
    );
    const results = await Promise.all(
      samples.map((args) => runCtl(tdb, args, { input: 'stdin-password-123\n', env: { CTL_LOCK_WAIT_MS: '120000' }, timeoutMs: 150000 })),
    );
    tally('inputs', samples.length);
    samples.forEach((args, i) => checkRun(args, { ...results[i], code: results[i].code ?? -1 }));
  }, 170000);
});
