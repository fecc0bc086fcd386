import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12, bug 3: a CSV tags cell holding a JSON array (the README allows it) was split on its
// comma and stored as the tags `["x"` and `"y"]`.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const tagsOf = (nickname: string) =>
  tdb.withDb(({ db }) => db.selectFrom('users').select('tags').where('nickname', '=', nickname).executeTakeFirstOrThrow()).then((r) => r.tags);

test('a CSV cell ["x","y"] becomes the tags x and y', async () => {
  const csv = 'nickname,email,tags\nann,ann@example.com,"[""x"",""Y""]"\nbob,bob@example.com,"a b"\n';
  const r = await ctl(tdb, ['user', 'import', '-', '--format', 'json'], { input: csv });
  expect(r.code).toBe(0);
  expect(await tagsOf('ann')).toEqual(['x', 'y']);
  expect(await tagsOf('bob')).toEqual(['a', 'b']);
});

test('a cell that starts with [ but is not a JSON array is a problem of its row', async () => {
  const csv = 'nickname,email,tags\nann,ann@example.com,"[x, y"\n';
  const r = await ctl(tdb, ['user', 'import', '-'], { input: csv });
  expect(r.code).toBe(2);
  expect(r.stdout + r.stderr).toContain('are not a JSON array');
});
