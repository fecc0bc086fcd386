import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { rowEncoder, type Format } from '../../../tasks/runner/formats';
import { COLUMNS, toJson } from '../../../tasks/user/list';
import { exportUsers, listUsers, type UserFilter } from '../../../lib/user/list';
import { writeUserExport } from '../../../tasks/shared/user-export';
import type { TaskContext } from '../../../tasks/runner/task-context';
import { Writable } from 'node:stream';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

describe('ctl user list', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--admin']);
    await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--no-confirmed']);
  });

  test('the table shows nickname, email, name, roles, status, confirmed, created', async () => {
    const r = await ctl(['user', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['NICKNAME', 'EMAIL', 'NAME', 'ROLES', 'STATUS', 'CONFIRMED', 'CREATED']);
    expect(lines[1].split(/\s{2,}/).slice(0, 6)).toEqual(['alice', 'alice@example.com', 'alice', 'admin', 'active', 'yes']);
    expect(lines[2].split(/\s{2,}/).slice(0, 6)).toEqual(['bob', 'bob@example.com', 'bob', '-', 'active', 'no']);
  });

  test('--limit N keeps the first N; a bad --limit is exit 2 quoting it as typed', async () => {
    expect(
      (await ctl(['user', 'list', '--limit', '1', '--format', 'ndjson'])).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).nickname),
    ).toEqual(['alice']);
    for (const value of ['abc', '', '0', '2.5'])
      expect(await ctl(['user', 'list', `--limit=${value}`])).toMatchObject({
        code: 2,
        stdout: '',
        stderr: `--limit must be a positive whole number, got ${JSON.stringify(value)}\n`,
      });
  });

  test('ndjson and csv carry the full user object; filters apply', async () => {
    const nd = await ctl(['user', 'list', '--format', 'ndjson', '--unconfirmed']);
    const rows = nd.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((u) => u.nickname)).toEqual(['bob']);
    const csv = await ctl(['user', 'list', '--format', 'csv', '--admin']);
    const [header, line, ...rest] = csv.stdout.split('\r\n');
    expect(header.split(',').slice(0, 4)).toEqual(['id', 'nickname', 'email', 'name']);
    expect(line.split(',').slice(1, 3)).toEqual(['alice', 'alice@example.com']);
    expect(rest).toEqual(['']);
  });

  test('--tag takes the tag rule of `tag`: trimmed and lower-cased; an impossible tag is exit 2, not an empty listing', async () => {
    await ctl(['user', 'tag', 'alice', 'staff']);
    expect(JSON.parse((await ctl(['user', 'list', '--tag', ' STAFF ', '--json'])).stdout).map((u: { nickname: string }) => u.nickname)).toEqual(['alice']);
    for (const tag of ['', 'A B', 'a,b'])
      expect(await ctl(['user', 'list', '--tag', tag])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('invalid tag') });
  });

  test('csv with no rows is the header alone, the header it has with rows', async () => {
    // A reader that expects a header (pandas' read_csv) fails on an empty file.
    const header = (await ctl(['user', 'list', '--format', 'csv'])).stdout.split('\r\n')[0];
    expect(header.startsWith('id,nickname,')).toBe(true);
    expect(await ctl(['user', 'list', '--format', 'csv', '--tag', 'no-such-tag'])).toMatchObject({ code: 0, stdout: `${header}\r\n` });
  });
});

describe('ctl user list --provider', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y']);
    await ctl(['user', 'new', 'bob', 'bob@example.com', '-y']);
    await ctl(['user', 'new', 'carol', 'carol@example.com', '-y']);
    await tdb.withDb((h) => h.db.updateTable('users').set({ provider: 'ldap' }).where('nickname', 'in', ['bob', 'carol']).execute());
  });

  test('only the accounts that sign in that way, in every format; an unknown provider is exit 2', async () => {
    const nd = await ctl(['user', 'list', '--provider', 'ldap', '--format', 'ndjson']);
    expect(
      nd.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).nickname),
    ).toEqual(['bob', 'carol']);
    const table = await ctl(['user', 'list', '--provider', 'local']);
    expect(
      table.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['alice']);
    expect((await ctl(['user', 'list', '--provider', 'saml', '--json'])).stdout.trim()).toBe('[]');
    expect((await ctl(['user', 'list', '--provider', 'kerberos'])).code).toBe(2);
  });
});

describe('ctl user list: every format streams from COPY, byte for byte what the row renderer gave', () => {
  // Values that stress both COPY's escaping and each format's: quotes, commas, line breaks, tabs,
  // backslashes, control characters, non-BMP characters, formula-like starts, nulls, empty and
  // long tag arrays with array-literal metacharacters, and timestamps of every precision.
  const AWKWARD: readonly { nickname: string; set: Record<string, unknown> }[] = [
    { nickname: 'quotes', set: { name: 'Jane "JJ" O\'Neil', bio: 'a,b,"c"', tags: ['x"y', 'a,b', '{brace}', 'back\\slash', 'NULL', 'sp ace', ''] } },
    {
      nickname: 'breaks',
      set: { name: 'line\nbreak\r\nand\ttab', bio: '\\n is not a line break \\\\ \\N', tags: Array.from({ length: 40 }, (_, i) => `tag${i}`) },
    },
    { nickname: 'controls', set: { name: '\u001b[31mred\u001b[0m \u000b\u0008\u000c\u0001\u007f', bio: '=SUM(A1)', tags: ['\u001btag'] } },
    { nickname: 'unicode', set: { name: '😀 𝒳 ℂ ﬀ \u2028\u2029 \u202e', bio: '+1', email: null } },
    { nickname: 'formulas', set: { name: '-minus', bio: '@at', tags: ['\ttab-first'] } },
    { nickname: 'empty', set: { name: '', bio: '' } },
    // Tags the transcoder writes without strings: unquoted elements, a null one, a formula-like
    // first one (CSV quotes it), raw control and non-BMP bytes; a text that starts like COPY's null.
    { nickname: 'plaintags', set: { name: '\\N', bio: '\\', tags: ['-dash', null, 'a\u0001b', '😀', 'z'] } },
    { nickname: 'nulltags', set: { name: 'x,y', bio: 'a"b', tags: [null] } },
    // Every flag the transcoder writes from its table of prebuilt pieces, each way.
    { nickname: 'flagsup', set: { admin: true, moderator: true, locked: true, mfa_enabled: true, mfa_totp_secret: 'JBSWY3DPEHPK3PXP', tags: [] } },
    { nickname: 'flagsdown', set: { confirmed: false, active: false, mfa_enabled: true, mfa_totp_secret: 'JBSWY3DPEHPK3PXP', tags: ['one'] } },
  ];
  const STAMPS = [
    '2026-01-02 03:04:05+00',
    '2026-01-02 03:04:05.1+00',
    '2026-01-02 03:04:05.123456+00',
    '1999-12-31 23:59:59.999999+00',
    '0099-06-01 00:00:00+00',
  ];

  async function seedAwkward(): Promise<void> {
    const db = tdb.handle.db;
    for (const [i, u] of AWKWARD.entries()) {
      expect((await ctl(['user', 'new', u.nickname, `${u.nickname}@example.com`, '-y'])).code).toBe(0);
      await db
        .updateTable('users')
        .set({ ...u.set, created_at: new Date(STAMPS[i % STAMPS.length]), last_login_at: i % 2 ? new Date(STAMPS[(i + 1) % STAMPS.length]) : null } as never)
        .where('nickname', '=', u.nickname)
        .execute();
    }
    expect((await ctl(['user', 'rm', 'empty', '-y'])).code).toBe(0);
  }

  async function collectChunks(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
    const all: Uint8Array[] = [];
    for await (const chunk of chunks) all.push(Uint8Array.from(chunk));
    return all;
  }

  /**
   * writeUserExport's output for COPY text that arrives in `chunks`. With `fd`, the stream looks
   * like one on a file descriptor (the output buffers are used again once written) and reads each
   * chunk only when it calls back, a moment later, as an asynchronous writer may.
   */
  async function transcoded(chunks: readonly Uint8Array[], format: 'ndjson' | 'json' | 'csv', fd = false): Promise<string> {
    const written: Buffer[] = [];
    const stdout = new Writable({
      // Takes every piece without asking to wait: only the callbacks say when each was written.
      highWaterMark: 1 << 30,
      write(chunk: Buffer, _encoding, done) {
        if (!fd) {
          written.push(Buffer.from(chunk));
          return done();
        }
        setImmediate(() => {
          written.push(Buffer.from(chunk));
          done();
        });
      },
    });
    if (fd) Object.assign(stdout, { fd: 99 });
    async function* source() {
      yield* chunks;
    }
    await writeUserExport({ io: { stdout } } as unknown as TaskContext, source(), format);
    await new Promise((resolve) => stdout.end(resolve));
    return Buffer.concat(written).toString('utf8');
  }

  /** The row renderer's text: listUsers' UserJson pages through the json/ndjson/csv encoders. */
  async function rowRendered(format: Format, filter: UserFilter): Promise<string> {
    const encoder = rowEncoder(format, COLUMNS, toJson);
    let text = '';
    for await (const page of listUsers(tdb.handle.db, filter)) text += encoder.page(page);
    return text + encoder.end();
  }

  test.each(['ndjson', 'json', 'csv', 'table'] as const)('%s equals the row renderer on awkward values, deleted users and filters', async (format) => {
    await seedAwkward();
    for (const [args, filter] of [
      [[], {}],
      [['--deleted'], { deleted: true }],
      [['--all', '--search', 'o'], { local: null, search: 'o' }],
      [['--tag', 'tag7'], { tag: 'tag7' }],
      [['--limit', '2'], { limit: 2 }],
      [['--admin'], { admin: true }],
    ] as const) {
      const r = await ctl(['user', 'list', '--format', format, ...args]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(await rowRendered(format, filter as UserFilter));
    }
    const all = await ctl(['user', 'list', '--format', format]);
    expect(all.stdout).toContain('quotes');
    expect(all.stdout).toContain('😀');
  });

  test.each(['ndjson', 'json', 'csv'] as const)('%s: the same bytes however the COPY text is cut into chunks', async (format) => {
    await seedAwkward();
    const filter: UserFilter = { local: null };
    const copy = Buffer.concat(await collectChunks(exportUsers(tdb.handle.db, filter)));
    const expected = await rowRendered(format, filter);
    // Cuts inside lines, fields, escapes and multi-byte characters, and whole lines at once.
    for (const size of [1, 2, 3, 5, 7, 64, copy.length]) {
      const chunks = Array.from({ length: Math.ceil(copy.length / size) }, (_, k) => copy.subarray(k * size, (k + 1) * size));
      expect(await transcoded(chunks, format)).toBe(expected);
    }
  });

  test('an output buffer is used again only after the stream has called back for it', async () => {
    await seedAwkward();
    const copy = Buffer.concat(await collectChunks(exportUsers(tdb.handle.db, { local: null })));
    // Megabytes of output (several buffers, each written and then used again), every line with
    // an id of its own so that no two buffers hold the same bytes.
    const lines = copy.toString('utf8').split('\n').slice(0, -1);
    const chunks = Array.from({ length: 2000 }, (_, k) =>
      Buffer.from(lines.map((line, i) => `${k * lines.length + i}${line.slice(line.indexOf('\t'))}\n`).join('')),
    );
    const expected = await transcoded(chunks, 'ndjson');
    expect(expected.length).toBeGreaterThan(3 << 20);
    expect(await transcoded(chunks, 'ndjson', true)).toBe(expected);
  });
});
