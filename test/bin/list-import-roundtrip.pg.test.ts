import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { runCtl, useTempDir } from '../helpers/cli';

// Moving accounts between instances, as an operator does it, through the real bin/ctl and two
// databases: `user list --all --format F > users.F` on one, `user import users.F` on the other.
// Import refused list's columns (id, local, createdAt, ...) before; its edge cases are in
// test/tasks/user/import-list-export.test.ts.

let from: TestDatabase;
let to: TestDatabase;
let dir: string;
useTempDir('ctl-roundtrip-', (d) => (dir = d));

beforeAll(async () => {
  [from, to] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  await from.withDb(({ db }) =>
    db
      .insertInto('users')
      .values([
        { nickname: 'alice', email: 'alice@example.com', name: 'Alice "Al", Jr.', bio: 'two\nlines, 😀', admin: true, tags: ['ops', 'x;y'] },
        { nickname: 'bob', email: 'bob@example.com', name: 'bob', moderator: true, confirmed: false },
        { nickname: 'carol', email: 'carol@example.com', name: '=carol', tags: Array.from({ length: 100 }, (_, k) => `tag${k}`).sort() },
        { nickname: 'mallory', email: 'mallory@example.com', name: 'Mallory', active: false },
        { nickname: 'eve@remote.example', email: null, name: 'Eve', local: false },
      ])
      .execute(),
  );
});
afterAll(() => Promise.all([from?.destroy(), to?.destroy()]));

const FIELDS = ['nickname', 'email', 'name', 'bio', 'admin', 'moderator', 'confirmed', 'tags', 'local', 'active', 'deleted'];

/** `list --format ndjson` of a database, the fields import sets (and the state it creates), by nickname. */
async function listed(tdb: TestDatabase): Promise<unknown[]> {
  const r = await runCtl(tdb, ['user', 'list', '--format', 'ndjson']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .map((u) => Object.fromEntries(FIELDS.map((k) => [k, u[k]])))
    .sort((a, b) => String(a.nickname).localeCompare(String(b.nickname)));
}

test.each(['csv', 'ndjson', 'json'])('list --all --format %s > users.F on one database, import users.F on another', async (format) => {
  await to.reset();
  const exported = await runCtl(from, ['user', 'list', '--all', '--format', format]);
  expect(exported).toMatchObject({ code: 0, stderr: '' });
  const file = path.join(dir, `users.${format}`);
  fs.writeFileSync(file, exported.stdout);

  const r = await runCtl(to, ['user', 'import', file, '--skip-email']);
  expect(r.stderr).toBe(
    'Ignoring columns import does not set: id, local, locked, active, deleted, deletedAt, mfaEnabled, createdAt, updatedAt, lastLoginAt\n' +
      'Left out 2 rows of accounts import does not recreate: 1 remote, 1 deactivated\n' +
      'Checked 3 rows: 3 to create, 0 already there, 0 with problems\n',
  );
  expect(r.code).toBe(0);
  // No password travels: each account gets its set-password link (printed: --skip-email).
  expect(r.stdout).toMatch(
    /^Password reset URL for alice: .*\nPassword reset URL for bob: .*\nPassword reset URL for carol: .*\nCreated: 3, Skipped: 0, Failed: 0\n$/,
  );

  const moved = (await listed(from)).filter((u) => (u as { active: boolean }).active);
  expect(moved.map((u) => (u as { nickname: string }).nickname)).toEqual(['alice', 'bob', 'carol']);
  expect(await listed(to)).toEqual(moved);
});
