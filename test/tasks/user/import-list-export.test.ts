import type { NewUserRow } from '../../../lib/db/schema';
import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// An operator moves accounts with `user list --format csv|ndjson|json > f` on one database and
// `user import f` on another. Import refused list's columns (id, createdAt, ...) in the header and
// every NDJSON line, and read a JSON array's lines as broken JSON Lines. Here the export is made,
// the table emptied, the export imported back, and the imported fields compared, on awkward values.

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const IGNORED = 'Ignoring columns import does not set: id, local, locked, active, deleted, deletedAt, mfaEnabled, createdAt, updatedAt, lastLoginAt\n';
const IMPORTED = ['nickname', 'email', 'name', 'bio', 'admin', 'moderator', 'confirmed', 'tags', 'local', 'active', 'deleted'] as const;

/** Tags as the table keeps them (lower-cased, unique, sorted as import sorts them). */
const sorted = (tags: string[]) => [...tags].sort();
const LONG_TAGS = Array.from({ length: 300 }, (_, k) => `t${String(k).padStart(3, '0')}`);

const USERS: NewUserRow[] = [
  { nickname: 'quotes', email: 'quotes@example.com', name: 'Say "hi", then, leave', bio: 'one\ntwo\r\nthree, "quoted"\ttab \\ backslash \\N', admin: true },
  {
    nickname: 'Unicode',
    email: 'uni@example.com',
    name: '😀 Ünïcode 𝔘',
    bio: '𝄞 music',
    moderator: true,
    confirmed: false,
    tags: sorted(['😀', 'café', 'a;b', '[wip]', '"quoted"', '=sum']),
  },
  { nickname: 'formula', email: 'formula@example.com', name: '=SUM(A1)', bio: '-minus, +plus, @at' },
  { nickname: 'spaces', email: 'spaces@example.com', name: '  padded  ', bio: '' },
  { nickname: 'many_tags', email: 'many@example.com', name: 'many_tags', tags: LONG_TAGS },
  { nickname: 'remote@elsewhere.example', email: null, name: 'Remote', local: false },
  { nickname: 'banned', email: 'banned@example.com', name: 'Banned', active: false },
];

async function seed(): Promise<void> {
  await tdb.withDb(({ db }) => db.insertInto('users').values(USERS).execute());
}

/** Every local user's imported fields, by nickname, as `list --format ndjson` shows them. */
async function listed(): Promise<Record<string, unknown>[]> {
  const r = await ctl(tdb, ['user', 'list', '--format', 'ndjson']);
  expect(r.code).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .map((u) => Object.fromEntries(IMPORTED.map((k) => [k, u[k]])))
    .sort((a, b) => String(a.nickname).localeCompare(String(b.nickname)));
}

describe.each(['csv', 'ndjson', 'json'])('list --all --format %s, imported into an empty table', (format) => {
  test('recreates every local, active account with its fields; names the ignored columns once; counts the rows left out', async () => {
    await seed();
    const exported = await ctl(tdb, ['user', 'list', '--all', '--format', format]);
    expect(exported.code).toBe(0);
    const before = (await listed()).filter((u) => u.active);
    expect(before).toHaveLength(5);
    await tdb.reset();

    // From stdin, the format guessed from the first character (`[` too, now).
    const r = await ctl(tdb, ['user', 'import', '-', '--skip-email', '--format', 'ndjson'], { input: exported.stdout });
    expect(r.stderr).toBe(
      `${IGNORED}Left out 2 rows of accounts import does not recreate: 1 remote, 1 deactivated\nChecked 5 rows: 5 to create, 0 already there, 0 with problems\nCreated: 5, Skipped: 0, Failed: 0\n`,
    );
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { status: string }).status),
    ).toEqual(Array(5).fill('created'));
    expect(await listed()).toEqual(before);
  });

  test('with -q nothing is said, and a second import of the same export skips every row', async () => {
    await seed();
    const exported = await ctl(tdb, ['user', 'list', '--format', format]);
    await tdb.reset();
    const file = ['user', 'import', '-', '--input-format', format, '--skip-email', '-q'];
    expect(await ctl(tdb, file, { input: exported.stdout })).toMatchObject({ code: 0, stderr: '' });
    const again = await ctl(tdb, ['user', 'import', '-', '--input-format', format], { input: exported.stdout });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('Created: 0, Skipped: 5, Failed: 0\n');
  });
});

test('an export of soft-deleted users (`list --deleted`) recreates none of them', async () => {
  await seed();
  await tdb.withDb(({ db }) => db.updateTable('users').set({ deleted_at: new Date() }).where('nickname', 'in', ['quotes', 'spaces']).execute());
  const exported = await ctl(tdb, ['user', 'list', '--deleted', '--format', 'csv']);
  await tdb.reset();
  const r = await ctl(tdb, ['user', 'import', '-'], { input: exported.stdout });
  expect(r).toMatchObject({
    code: 0,
    stdout: 'Created: 0, Skipped: 0, Failed: 0\n',
    stderr: `${IGNORED}Left out 2 rows of accounts import does not recreate: 2 deleted\nChecked 0 rows: 0 to create, 0 already there, 0 with problems\n`,
  });
});

test("a file of import's own columns prints no note, as before", async () => {
  const r = await ctl(tdb, ['user', 'import', '-', '--skip-email', '--dry-run'], { input: 'nickname,email,tags\nann,ann@example.com,"a;b c"\n' });
  expect(r).toMatchObject({ code: 0, stderr: 'Checked 1 row: 1 to create, 0 already there, 0 with problems (dry run)\n' });
});

test('a column neither import nor list has is still exit 2, naming only it', async () => {
  const r = await ctl(tdb, ['user', 'import', '-'], { input: 'id,email,role,createdAt\n1,a@example.com,x,\n' });
  expect(r).toMatchObject({
    code: 2,
    stderr: 'unknown column "role" in the header: expected nickname, email, name, bio, admin, moderator, confirmed, tags, password\n',
  });
});

test('a list flag that is neither true nor false is a problem of its row', async () => {
  const input = 'nickname,email,active,deleted\nann,ann@example.com,true,maybe\nbob,bob@example.com,,\n';
  const r = await ctl(tdb, ['user', 'import', '-', '--skip-email'], { input });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('line 2: deleted must be true or false, not "maybe"\n');
  // Empty flags are the defaults: bob is a local, active, live account.
  const ok = await ctl(tdb, ['user', 'import', '-', '--skip-email', '-q'], { input: 'nickname,email,active,deleted\nbob,bob@example.com,,\n' });
  expect(ok).toMatchObject({ code: 0, stderr: '' });
});

test('JSON nulls of a list export are absent values: a null name is the nickname, a null bio empty', async () => {
  const line = (o: object) => JSON.stringify({ id: 9, local: true, active: true, deleted: false, deletedAt: null, lastLoginAt: null, ...o });
  const input = `${line({ nickname: 'ann', email: 'ann@example.com', name: null, bio: null, tags: [] })}\n`;
  expect(await ctl(tdb, ['user', 'import', '-', '--skip-email', '-q'], { input })).toMatchObject({ code: 0, stderr: '' });
  expect(await listed()).toEqual([
    {
      nickname: 'ann',
      email: 'ann@example.com',
      name: 'ann',
      bio: '',
      admin: false,
      moderator: false,
      confirmed: true,
      tags: [],
      local: true,
      active: true,
      deleted: false,
    },
  ]);
});

describe('a JSON array', () => {
  test('`[]` (list found no one) is an empty file', async () => {
    const r = await ctl(tdb, ['user', 'import', '-', '--input-format', 'json'], { input: '[]\n' });
    expect(r).toMatchObject({ code: 0, stdout: 'Created: 0, Skipped: 0, Failed: 0\n' });
  });

  test('on one line (jq -c .) is read as its objects', async () => {
    const input = '[{"nickname":"ann","email":"ann@example.com"},{"nickname":"bob","email":"bob@example.com","id":2}]\n';
    const r = await ctl(tdb, ['user', 'import', '-', '--skip-email', '-q'], { input });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await listed()).map((u) => u.nickname)).toEqual(['ann', 'bob']);
  });

  test('pretty-printed is exit 2 in one line, not a row error per line', async () => {
    const input = '[\n  {\n    "nickname": "ann",\n    "email": "ann@example.com"\n  }\n]\n';
    const r = await ctl(tdb, ['user', 'import', '-', '--input-format', 'json'], { input });
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "line 2: a JSON array is read with one object per line, as `ctl user list --format json` writes it: convert this file with jq -c '.[]' and import that\n",
    });
  });
});
