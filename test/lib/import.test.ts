import { sql } from 'kysely';
import bcrypt from 'bcryptjs';
import fc from 'fast-check';
import { createTestDatabase, libContext, truncateAll, TEST_SETTINGS, type TestDatabase } from '../helpers/backend';
import { countQueries } from '../helpers/query-counter';
import { CsvReader, JsonlReader, readRecords, type RawRecord } from '../../lib/import/parse';
import { normalizeRecord, planImport } from '../../lib/import/plan';
import { newTokens, writeImport, type CreatedImportRow } from '../../lib/import/write';
import { createHashPool, type HashPool } from '../../lib/auth/hash-pool';
import { hashToken } from '../../lib/tokens/secrets';
import { InterruptedError, UsageError } from '../../lib/errors';
import type { DbHandle } from '../../lib/db/db';

const HEADER = 'nickname,email,name,bio,admin,moderator,confirmed,tags,password\n';

function csv(text: string): RawRecord[] {
  const reader = new CsvReader();
  return [...reader.push(text), ...reader.end()];
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield p;
}

describe('CSV reader', () => {
  test('quoted fields, doubled quotes, commas and line breaks inside, CRLF, BOM; line numbers of each record', () => {
    const records = csv('\uFEFFNickname,EMAIL,bio\r\nalice,a@example.com,"Hi, ""you""\r\nline two"\r\n\r\nbob,b@example.com,\r\n');
    expect(records).toEqual([
      { line: 2, values: { nickname: 'alice', email: 'a@example.com', bio: 'Hi, "you"\r\nline two' } },
      { line: 5, values: { nickname: 'bob', email: 'b@example.com', bio: '' } },
    ]);
  });

  test('gives the same records whatever the chunk boundaries (one character at a time)', () => {
    const text = `${HEADER}alice,a@example.com,"A ""q"", b",,true,,,"x y",\ncarol,c@example.com,C,,,,,,pw-123456789`;
    const whole = csv(text);
    const reader = new CsvReader();
    const bits: RawRecord[] = [];
    for (const ch of text) bits.push(...reader.push(ch));
    bits.push(...reader.end());
    expect(bits).toEqual(whole);
    expect(whole).toHaveLength(2);
    expect(whole[0].values.name).toBe('A "q", b');
    expect(whole[1]).toMatchObject({ line: 3, values: { password: 'pw-123456789' } });
  });

  test('any fields written as RFC 4180 CSV read back the same, however the text is cut into chunks', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r\n', 'é', '😀', 'x'), maxLength: 12 });
    const quote = (f: string) => (/[",\r\n]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f);
    fc.assert(
      fc.property(fc.array(fc.tuple(field, field), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(40), { maxLength: 10 }), fc.boolean(), (rows, cuts, crlf) => {
        const eol = crlf ? '\r\n' : '\n';
        const text = `email,bio${eol}${rows.map(([a, b]) => `${quote(a)},${quote(b)}`).join(eol)}${eol}`;
        const reader = new CsvReader();
        const got: RawRecord[] = [];
        let at = 0;
        for (const cut of cuts) {
          got.push(...reader.push(text.slice(at, at + cut)));
          at += cut;
        }
        got.push(...reader.push(text.slice(at)), ...reader.end());
        expect(got.map((r) => [r.values.email, r.values.bio])).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  test('a record with the wrong number of fields is a row error, not the end of the file', () => {
    expect(csv('email,name\na@example.com\nb@example.com,B\n')).toEqual([
      { line: 2, values: {}, error: 'expected 2 fields as in the header, found 1' },
      { line: 3, values: { email: 'b@example.com', name: 'B' } },
    ]);
  });

  test.each([
    ['', 'the file is empty: expected a header line naming the columns (nickname, email, name, bio, admin, moderator, confirmed, tags, password)'],
    ['nickname,name\n', 'the header has no "email" column: expected nickname, email, name, bio, admin, moderator, confirmed, tags, password'],
    ['email,role,team\n', 'unknown columns "role", "team" in the header: expected nickname, email, name, bio, admin, moderator, confirmed, tags, password'],
    ['email,Email\n', 'column "email" appears twice in the header'],
    ['email,bio\na@example.com,"never closed\n', 'line 2: a quoted field is never closed'],
    ['email,bio\na@example.com,"closed"then text\n', 'line 2: text after a closing quote (a quote inside a field must be doubled: "")'],
    ['email,bio\na@example.com,say "hi"\n', 'line 2: a quote in an unquoted field (quote the whole field and double the quote: "")'],
  ])('a malformed file is a usage error: %j', (text, message) => {
    expect(() => csv(text)).toThrow(new UsageError(message));
  });
});

describe('JSON Lines reader and format sniffing', () => {
  test('one object per line, keys in any case, blank lines ignored, a last line without a line break', async () => {
    const records = await collect(readRecords(chunks('{"Email":"a@example.com","tags":["x"]}\n\n{"email":', '"b@example.com","admin":true}'), 'jsonl'));
    expect(records).toEqual([
      { line: 1, values: { email: 'a@example.com', tags: ['x'] } },
      { line: 3, values: { email: 'b@example.com', admin: true } },
    ]);
  });

  test('a line that is not a JSON object, or has unknown keys, is a row error with its line', () => {
    const r = new JsonlReader();
    const out = [...r.push('{"email":"a@example.com"}\nnot json\n[1]\n{"email":"b@example.com","role":"x"}\n'), ...r.end()];
    expect(out.map((x) => [x.line, x.error])).toEqual([
      [1, undefined],
      [2, expect.stringMatching(/^not valid JSON: /)],
      [3, 'expected a JSON object'],
      [4, 'unknown key "role": expected nickname, email, name, bio, admin, moderator, confirmed, tags, password'],
    ]);
  });

  test('stdin with no format given: a leading { means JSON Lines, anything else CSV', async () => {
    expect(await collect(readRecords(chunks('  {"email":"a@example.com"}\n'), null))).toEqual([{ line: 1, values: { email: 'a@example.com' } }]);
    expect(await collect(readRecords(chunks('email\na@example.com\n'), null))).toEqual([{ line: 2, values: { email: 'a@example.com' } }]);
    expect(await collect(readRecords(chunks(Buffer.from('email\n') as unknown as string, 'b@example.com'), 'csv'))).toEqual([{ line: 2, values: { email: 'b@example.com' } }]);
  });
});

describe('normalizeRecord', () => {
  test('defaults: nickname from the email, name from the nickname, confirmed, no roles, no tags, no password', () => {
    expect(normalizeRecord({ line: 2, values: { email: 'Jane.Doe@example.com' } })).toEqual({
      line: 2, nickname: 'Jane.Doe', email: 'Jane.Doe@example.com', name: 'Jane.Doe', bio: '', admin: false, moderator: false, confirmed: true, tags: [], password: null,
    });
  });

  test('flags in words or digits, tags split on spaces, commas or semicolons, lower-cased, unique and sorted', () => {
    const row = normalizeRecord({ line: 3, values: { email: 'a@example.com', nickname: 'al', admin: 'YES', moderator: '1', confirmed: 'no', tags: ' Staff,beta;  staff ', password: 'long-enough' } });
    expect(row).toMatchObject({ admin: true, moderator: true, confirmed: false, tags: ['beta', 'staff'], password: 'long-enough' });
    expect(normalizeRecord({ line: 4, values: { email: 'b@example.com', admin: false, tags: ['Z', 'a'] } })).toMatchObject({ admin: false, tags: ['a', 'z'] });
  });

  test.each([
    [{}, 'no email'],
    [{ email: 'nope' }, 'invalid email "nope"'],
    [{ email: 'a@example.com', nickname: 'bad nick' }, expect.stringMatching(/^invalid nickname "bad nick"/)],
    [{ email: '-x@example.com' }, 'no nickname, and none can be taken from "-x@example.com"'],
    [{ email: 'a@example.com', admin: 'sometimes' }, 'admin must be true or false, not "sometimes"'],
    [{ email: 'a@example.com', password: 'short' }, 'the password is too short: at least 8 characters'],
    [{ email: 'a@example.com', tags: 5 }, 'tags must be a list or a string, not number'],
    [{ email: 'a@example.com', name: { x: 1 } }, 'name must be a string, not object'],
    [{ email: 'a@example.com', bio: 'x'.repeat(5001) }, 'the bio is too long: 5001 characters, at most 5000'],
  ])('a bad row says why: %j', (values, message) => {
    let caught: Error | null = null;
    try {
      normalizeRecord({ line: 9, values });
    } catch (error) {
      caught = error as Error;
    }
    expect(caught?.message).toEqual(message);
  });
});

describe('planning and writing against the database', () => {
  let tdb: TestDatabase;
  let h: DbHandle;
  let pool: HashPool;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    h = await tdb.open();
    pool = createHashPool(2);
  });
  afterAll(async () => {
    await pool?.close();
    await h?.close();
    await tdb?.destroy();
  });
  beforeEach(() => truncateAll(h));

  const plan = (text: string) => planImport(h.db, readRecords(chunks(text), 'csv'));

  test('problems of every kind, each on its own line; same nickname and email already there is a skip', async () => {
    await sql`INSERT INTO users (nickname, email, name) VALUES ('Taken', 'taken@example.com', 't'), ('other', 'used@example.com', 'o')`.execute(h.db);
    const p = await plan(
      'nickname,email\n' +
        'alice,alice@example.com\n' + // 2 ok
        'ALICE,alice2@example.com\n' + // 3 duplicate nickname (case-insensitive)
        'bob,Alice@Example.com\n' + // 4 duplicate email
        'taken,taken@example.com\n' + // 5 same account: skipped
        'taken,new@example.com\n' + // 6 nickname taken by another email... but line 5 already has it in the file
        'carol,USED@example.com\n' + // 7 email taken
        'dave,dave@\n' + // 8 invalid
        'erin,erin@example.com\n', // 9 ok
    );
    expect(p.total).toBe(8);
    expect(p.rows.map((r) => [r.line, r.nickname])).toEqual([[2, 'alice'], [9, 'erin']]);
    expect(p.skipped).toEqual([{ line: 5, nickname: 'Taken', email: 'taken@example.com', id: expect.any(Number) }]);
    expect(p.problems.map((x) => [x.line, x.kind, x.error])).toEqual([
      [3, 'duplicate', 'nickname ALICE is also on line 2'],
      [4, 'duplicate', 'email Alice@Example.com is also on line 2'],
      [6, 'duplicate', 'nickname taken is also on line 5'],
      [7, 'taken', 'email USED@example.com is already taken'],
      [8, 'invalid', 'invalid email "dave@"'],
    ]);
  });

  test('reports progress while reading (every 10,000 rows and at the end) and while checking (each chunk)', async () => {
    const lines = ['email'];
    for (let i = 1; i <= 12000; i++) lines.push(`r${i}@example.com`);
    const seen: string[] = [];
    const p = await planImport(h.db, readRecords(chunks(`${lines.join('\n')}\n`), 'csv'), { chunkSize: 5000, onProgress: (phase, n) => void seen.push(`${phase} ${n}`) });
    expect(p.rows).toHaveLength(12000);
    // The lookups run while the file is still being read, so the two phases interleave.
    expect(seen.filter((x) => x.startsWith('read'))).toEqual(['read 10000', 'read 12000']);
    const checked = seen.filter((x) => x.startsWith('checked')).map((x) => Number(x.split(' ')[1]));
    expect(checked).toHaveLength(3);
    expect(checked[2]).toBe(12000);
    expect([...checked].sort((a, b) => a - b)).toEqual(checked);
    expect(seen).toHaveLength(5);
  });

  test('a nickname taken by an account with another email is a conflict, not a skip', async () => {
    await sql`INSERT INTO users (nickname, email, name) VALUES ('bob', 'bob@old.example', 'b')`.execute(h.db);
    const p = await plan('nickname,email\nbob,bob@example.com\n');
    expect(p.skipped).toEqual([]);
    expect(p.problems).toEqual([{ line: 2, nickname: 'bob', email: 'bob@example.com', kind: 'taken', error: 'nickname bob is already taken' }]);
  });

  test('writes users, set-password tokens (hash only) and one audit row per user, in one statement per batch', async () => {
    const lines = ['nickname,email,name,admin,tags,password'];
    for (let i = 1; i <= 25; i++) lines.push(`u${i},u${i}@example.com,User ${i},${i === 1},${i % 2 ? 'odd' : ''},${i <= 3 ? `password-${i}` : ''}`);
    const p = await plan(`${lines.join('\n')}\n`);
    expect(p.rows).toHaveLength(25);
    const counted = countQueries(h.db);
    const now = new Date('2026-11-22T10:00:00Z');
    const batches: CreatedImportRow[][] = [];
    const result = await writeImport(counted.db, libContext(h, { db: counted.db, now: () => now, actor: 'ops', reason: 'migration' }), p.rows, TEST_SETTINGS, {
      batchSize: 10,
      hashPool: pool,
      onBatch: (done) => void batches.push([...done]),
    });
    expect(result).toEqual({ created: 25, lost: 0, batches: 3 });
    // Per batch: SAVEPOINT, the one INSERT statement, RELEASE.
    expect(counted.count()).toBe(9);
    expect(counted.kinds().filter((k) => k !== "RawNode")).toEqual([]);
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);

    const users = await h.db.selectFrom('users').select(['id', 'nickname', 'name', 'admin', 'tags', 'password_hash', 'local', 'confirmed']).orderBy('id').execute();
    expect(users).toHaveLength(25);
    expect(users[0]).toMatchObject({ nickname: 'u1', name: 'User 1', admin: true, tags: ['odd'], local: true, confirmed: true });
    expect(users[1]).toMatchObject({ nickname: 'u2', admin: false, tags: [] });
    expect(await bcrypt.compare('password-2', users[1].password_hash!)).toBe(true);
    expect(bcrypt.getRounds(users[1].password_hash!)).toBe(TEST_SETTINGS.bcryptCost);
    expect(users.slice(3).every((u) => u.password_hash === null)).toBe(true);

    const created = batches.flat();
    expect(created.filter((c) => c.passwordReset === null).map((c) => c.nickname)).toEqual(['u1', 'u2', 'u3']);
    const u4 = created.find((c) => c.nickname === 'u4')!;
    expect(u4.passwordReset!.url).toBe(`http://ctl.test/password_reset/${u4.passwordReset!.token}`);
    const tokens = await h.db.selectFrom('tokens').selectAll().orderBy('user_id').execute();
    expect(tokens).toHaveLength(22);
    const t4 = tokens.find((t) => t.user_id === u4.id)!;
    expect(t4).toMatchObject({ kind: 'password_reset', token_hash: hashToken(u4.passwordReset!.token), used_at: null, revoked_at: null });
    expect(t4.expires_at!.getTime()).toBe(now.getTime() + TEST_SETTINGS.passwordResetTtlMs);

    const audit = await h.db.selectFrom('audit_log').selectAll().orderBy('id').execute();
    expect(audit).toHaveLength(25);
    expect(audit[0]).toMatchObject({ actor: 'ops', verb: 'import', reason: 'migration', target_user_id: users[0].id, target_nickname: 'u1' });
    expect(audit[0].details).toEqual({ email: 'u1@example.com', admin: true, moderator: false, confirmed: true, tags: ['odd'], passwordSet: true });
    const everything = JSON.stringify(audit);
    expect(everything).not.toContain('password-1');
    expect(everything).not.toContain(u4.passwordReset!.token);
    expect(everything).not.toContain('$2');
  });

  test('Ctrl-C stops after the current batch; planning again skips what was written and the rest completes', async () => {
    const lines = ['email'];
    for (let i = 1; i <= 30; i++) lines.push(`n${i}@example.com`);
    const text = `${lines.join('\n')}\n`;
    const first = await plan(text);
    const controller = new AbortController();
    const run = writeImport(h.db, libContext(h), first.rows, TEST_SETTINGS, {
      batchSize: 10,
      signal: controller.signal,
      onProgress: (pr) => pr.batches === 2 && controller.abort(),
    });
    await expect(run).rejects.toThrow(new InterruptedError('interrupted after 20 of 30 rows (20 created); every finished batch is saved, re-run the same import to finish the rest'));
    expect(Number((await sql<{ n: number }>`SELECT count(*) AS n FROM users`.execute(h.db)).rows[0].n)).toBe(20);

    const second = await plan(text);
    expect(second.skipped).toHaveLength(20);
    expect(second.rows.map((r) => r.nickname)).toEqual(['n21', 'n22', 'n23', 'n24', 'n25', 'n26', 'n27', 'n28', 'n29', 'n30']);
    expect(await writeImport(h.db, libContext(h), second.rows, TEST_SETTINGS, { batchSize: 10 })).toEqual({ created: 10, lost: 0, batches: 2 });
    expect(Number((await sql<{ n: number }>`SELECT count(*) AS n FROM users`.execute(h.db)).rows[0].n)).toBe(30);
    expect(Number((await sql<{ n: number }>`SELECT count(*) AS n FROM tokens`.execute(h.db)).rows[0].n)).toBe(30);
  });

  test('a row taken by someone else between planning and writing is lost, the rest of its batch is written', async () => {
    const p = await plan('nickname,email\na1,a1@example.com\na2,a2@example.com\na3,a3@example.com\n');
    await sql`INSERT INTO users (nickname, email, name) VALUES ('late', 'A2@example.com', 'x')`.execute(h.db);
    const lost: string[] = [];
    const r = await writeImport(h.db, libContext(h), p.rows, TEST_SETTINGS, { batchSize: 10, onBatch: (_d, gone) => void lost.push(...gone.map((g) => `${g.line}: ${g.error}`)) });
    expect(r).toEqual({ created: 2, lost: 1, batches: 1 });
    expect(lost).toEqual(['3: nickname a2 or email a2@example.com was taken while importing']);
    const names = (await h.db.selectFrom('users').select('nickname').orderBy('nickname').execute()).map((u) => u.nickname);
    expect(names).toEqual(['a1', 'a3', 'late']);
    expect(await h.db.selectFrom('audit_log').select('target_nickname').orderBy('target_nickname').execute()).toEqual([{ target_nickname: 'a1' }, { target_nickname: 'a3' }]);
  });

  test('a batch that fails rolls back alone and prints no link for it', async () => {
    const p = await plan('email\nx1@example.com\nx2@example.com\nx3@example.com\n');
    const reported: string[] = [];
    let query = 0;
    const failing = h.db.withPlugin({
      transformQuery: (args) => {
        query += 1;
        // Each batch is SAVEPOINT, INSERT, RELEASE: the fifth statement is the second batch's INSERT.
        if (query === 5) throw new Error('boom');
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    await expect(
      writeImport(failing, libContext(h, { db: failing }), p.rows, TEST_SETTINGS, { batchSize: 2, onBatch: (done) => void reported.push(...done.map((d) => d.nickname)) }),
    ).rejects.toThrow('boom');
    expect(reported).toEqual(['x1', 'x2']);
    expect((await h.db.selectFrom('users').select('nickname').orderBy('id').execute()).map((u) => u.nickname)).toEqual(['x1', 'x2']);
  });
});

describe('hash pool', () => {
  test('hashes in input order on worker threads, and verifies with bcryptjs', async () => {
    const pool = createHashPool(2);
    try {
      expect(pool.size).toBe(2);
      const passwords = ['first-pass', 'second-pass', 'third-pass'];
      const hashes = await pool.hashMany(passwords, 4);
      expect(hashes).toHaveLength(3);
      for (let i = 0; i < 3; i++) expect(await bcrypt.compare(passwords[i], hashes[i])).toBe(true);
      expect(await bcrypt.compare('first-pass', hashes[1])).toBe(false);
      expect(await pool.hashMany([], 4)).toEqual([]);
      expect(bcrypt.getRounds(await pool.hash('single-pass', 5))).toBe(5);
    } finally {
      await pool.close();
    }
    await expect(pool.hash('after-close', 4)).rejects.toThrow('the hash pool is closed');
  });

  test('hashing runs off the main thread: timers fire while a slow batch is being hashed', async () => {
    const pool = createHashPool(2);
    try {
      let finished = false;
      const job = pool.hashMany(['password-a', 'password-b', 'password-c', 'password-d'], 11).then(() => (finished = true));
      // bcryptjs on the main thread would block the event loop for the whole job (~0.5 s at cost 11).
      const ticks: boolean[] = [];
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 5));
        ticks.push(finished);
      }
      expect(ticks).toEqual([false, false, false, false, false]);
      await job;
      expect(finished).toBe(true);
    } finally {
      await pool.close();
    }
});
});

describe('newTokens', () => {
  test('a distinct 43-character URL-safe token (256 bits) where wanted, null elsewhere', () => {
    const tokens = newTokens([true, false, true, true]);
    expect(tokens[1]).toBeNull();
    const real = tokens.filter((t): t is string => t !== null);
    expect(real).toHaveLength(3);
    for (const t of real) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(real).size).toBe(3);
    expect(Buffer.from(real[0], 'base64url')).toHaveLength(32);
    expect(newTokens([false, false])).toEqual([null, null]);
  });
});
