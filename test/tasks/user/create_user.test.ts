import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12: Overleaf's create-user --admin --email=, comma-separated bulk creation, and
// delete-user --email= [--skip-email].
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const users = async () =>
  (JSON.parse((await ctl(tdb, ['user', 'list', '--json'])).stdout) as { nickname: string; admin: boolean; deleted: boolean }[]).map((u) => [
    u.nickname,
    u.admin,
  ]);

test('create-user --admin --email=joe@example.com creates admin joe without asking, printing his link', async () => {
  const r = await ctl(tdb, ['user', 'create-user', '--admin', '--email=joe@example.com']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('User joe created\nAdmin status of joe: true\n');
  expect(r.stdout).toMatch(/URL: http:\/\/ctl\.test\/password_reset\/\S+\n/);
  expect(await users()).toEqual([['joe', true]]);
});

test('a comma-separated list creates each; one taken is exit 7 naming it, the others are created', async () => {
  expect((await ctl(tdb, ['user', 'create-user', '--email=ann@example.com, bob@example.com'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'create_user', '--email=cat@example.com,ann@example.com,dan@example.com']);
  expect(r.code).toBe(7);
  expect(r.stderr).toContain('ann@example.com: nickname ann is already taken\n');
  expect((await users()).map(([n]) => n).sort()).toEqual(['ann', 'bob', 'cat', 'dan']);
});

test("--email takes the console's list rule: commas, semicolons or line breaks, a repeat created once", async () => {
  const r = await ctl(tdb, ['user', 'create-user', '--email=ann@example.com; bob@example.com;\ncat@example.com,ANN@example.com']);
  expect(r.code).toBe(0);
  expect(r.stderr).not.toMatch(/taken|invalid/);
  expect((await users()).map(([n]) => n).sort()).toEqual(['ann', 'bob', 'cat']);
});

test('an invalid address in the list is named and skipped like a taken one: the rest are created, exit 7', async () => {
  const r = await ctl(tdb, ['user', 'create-user', '--email=ann@example.com,not-an-address,dan+x@example.com,bob@example.com']);
  expect(r.code).toBe(7);
  expect(r.stderr).toContain('not-an-address: invalid email "not-an-address"\n');
  expect(r.stderr).toContain('dan+x@example.com: cannot take a nickname from "dan+x@example.com"');
  expect(r.stderr).toContain('2 of 4 accounts were not created (listed above); the others were\n');
  expect((await users()).map(([n]) => n).sort()).toEqual(['ann', 'bob']);
});

test("a list where every account fails for one reason is that reason's exit code, not 7 (none was made)", async () => {
  const invalid = await ctl(tdb, ['user', 'create-user', '--email=not-an-address,also-not']);
  expect(invalid).toMatchObject({ code: 2, stderr: expect.stringContaining('none of the 2 accounts was created (listed above)\n') });
  expect((await ctl(tdb, ['user', 'create-user', '--email=ann@example.com,bob@example.com'])).code).toBe(0);
  const taken = await ctl(tdb, ['user', 'create-user', '--email=ann@example.com,bob@example.com']);
  expect(taken).toMatchObject({ code: 4, stderr: expect.stringContaining('none of the 2 accounts was created (listed above)\n') });
  expect((await users()).map(([n]) => n).sort()).toEqual(['ann', 'bob']);
});

test('--dry-run of a list with a taken address says what would happen, and creates nothing', async () => {
  expect((await ctl(tdb, ['user', 'create-user', '--email=ann@example.com'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'create-user', '--email=ann@example.com,bob@example.com', '--dry-run']);
  expect(r.code).toBe(7);
  expect(r.stdout).toContain('User bob would be created (dry run)\n');
  expect(r.stderr).toBe('ann@example.com: nickname ann is already taken\n1 of 2 accounts would not be created (listed above); the others would be (dry run)\n');
  expect(await users()).toEqual([['ann', false]]);
});

test("LibreChat's positional form works under the same name", async () => {
  expect((await ctl(tdb, ['user', 'create-user', 'grace@example.com', 'Grace Hopper', 'grace'])).code).toBe(0);
  expect(await users()).toEqual([['grace', false]]);
});
