import { sql } from 'kysely';
import { createTestDatabase, truncateAll, type TestDatabase } from '../../helpers/backend';
import { readRecords } from '../../../lib/import/parse';
import { normalizeRecord, planImport } from '../../../lib/import/plan';
import type { DbHandle } from '../../../lib/db/db';

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield p;
}

describe('normalizeRecord', () => {
  test('defaults: nickname from the email, name from the nickname, confirmed, no roles, no tags, no password', () => {
    expect(normalizeRecord({ line: 2, values: { email: 'Jane.Doe@example.com' } })).toEqual({
      line: 2,
      nickname: 'Jane.Doe',
      email: 'Jane.Doe@example.com',
      name: 'Jane.Doe',
      bio: '',
      admin: false,
      moderator: false,
      confirmed: true,
      tags: [],
      password: null,
    });
  });

  test('flags in words or digits, tags split on spaces, commas or semicolons, lower-cased, unique and sorted', () => {
    const row = normalizeRecord({
      line: 3,
      values: { email: 'a@example.com', nickname: 'al', admin: 'YES', moderator: '1', confirmed: 'no', tags: ' Staff,beta;  staff ', password: 'long-enough' },
    });
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

describe('planning against the database', () => {
  let tdb: TestDatabase;
  let h: DbHandle;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    h = await tdb.open();
  });
  afterAll(async () => {
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
    expect(p.rows.slice(0, p.rows.length).map((r) => [r.line, r.nickname])).toEqual([
      [2, 'alice'],
      [9, 'erin'],
    ]);
    // In the file's order, the problems found while reading between the rows the lookups settled.
    expect([...p.settled]).toEqual([
      { status: 'failed', line: 3, nickname: 'ALICE', email: 'alice2@example.com', kind: 'duplicate', error: 'nickname ALICE is also on line 2' },
      { status: 'failed', line: 4, nickname: 'bob', email: 'Alice@Example.com', kind: 'duplicate', error: 'email Alice@Example.com is also on line 2' },
      { status: 'skipped', line: 5, nickname: 'Taken', email: 'taken@example.com', id: expect.any(Number) },
      { status: 'failed', line: 6, nickname: 'taken', email: 'new@example.com', kind: 'duplicate', error: 'nickname taken is also on line 5' },
      { status: 'failed', line: 7, nickname: 'carol', email: 'USED@example.com', kind: 'taken', error: 'email USED@example.com is already taken' },
      { status: 'failed', line: 8, nickname: 'dave', email: 'dave@', kind: 'invalid', error: 'invalid email "dave@"' },
    ]);
    expect([p.settled.skipped, p.settled.failed, p.settled.onlyTaken]).toEqual([1, 5, false]);
  });

  test('reports progress while reading (every 10,000 rows and at the end) and while checking (each chunk)', async () => {
    const lines = ['email'];
    for (let i = 1; i <= 12000; i++) lines.push(`r${i}@example.com`);
    const seen: string[] = [];
    const p = await planImport(h.db, readRecords(chunks(`${lines.join('\n')}\n`), 'csv'), {
      chunkSize: 5000,
      onProgress: (phase, n) => void seen.push(`${phase} ${n}`),
    });
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
    expect([...p.settled]).toEqual([
      { status: 'failed', line: 2, nickname: 'bob', email: 'bob@example.com', kind: 'taken', error: 'nickname bob is already taken' },
    ]);
    expect([p.settled.skipped, p.settled.failed, p.settled.onlyTaken]).toEqual([0, 1, true]);
  });
});
