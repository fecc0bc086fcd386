import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 13, finding 5, through the CLI: one owner per address under the email rule's key (NFKC,
// case-insensitively), also for an address stored before the rule, in a look-alike form.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

/** `early` holds ｋate@example.com (fullwidth ｋ), written raw as an app or an older ctl did. */
beforeEach(async () => {
  expect((await ctl(tdb, ['user', 'new', 'early', 'early@example.com', '-y'])).code).toBe(0);
  await tdb.withDb(({ db }) => db.updateTable('users').set({ email: '\uff4bate@example.com' }).where('nickname', '=', 'early').execute());
});

const nicknames = async () => (await tdb.withDb(({ db }) => db.selectFrom('users').select('nickname').orderBy('id').execute())).map((u) => u.nickname);

test('show kate@example.com and show \u212Aate@example.com (Kelvin sign) find the one owner of the address', async () => {
  for (const ref of ['kate@example.com', '\u212Aate@example.com', 'KATE@example.com']) {
    const r = await ctl(tdb, ['user', 'show', ref, '--json']);
    expect([ref, r.code, r.code === 0 ? JSON.parse(r.stdout).nickname : r.stderr]).toEqual([ref, 0, 'early']);
  }
});

test('new refuses a look-alike of the stored address (exit 4), naming it', async () => {
  for (const email of ['kate@example.com', '\u212Aate@example.com']) {
    const r = await ctl(tdb, ['user', 'new', 'kate', email, '-y']);
    expect([r.code, r.stderr]).toEqual([4, `email ${email.normalize('NFKC')} is already taken\n`]);
  }
  expect(await nicknames()).toEqual(['early']);
});

test('import refuses the row as taken', async () => {
  const r = await ctl(tdb, ['user', 'import', '-', '--json'], { input: 'nickname,email\nkate,kate@example.com\n' });
  expect(r.stdout).toContain('email kate@example.com is already taken');
  expect(await nicknames()).toEqual(['early']);
});

test('set --email and invite --email refuse it too', async () => {
  expect((await ctl(tdb, ['user', 'new', 'bob', 'bob@example.com', '-y'])).code).toBe(0);
  const set = await ctl(tdb, ['user', 'set', 'bob', '--email', 'kate@example.com']);
  expect([set.code, set.stderr]).toEqual([4, 'email kate@example.com is already taken\n']);
  const invite = await ctl(tdb, ['user', 'invite', '--email', 'Kate@Example.com']);
  expect(invite.code).toBe(4);
});
