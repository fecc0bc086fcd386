import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12: `new joe` after `rm joe` said only `nickname joe is already taken`.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

test('a soft-deleted account holding the name is named, with restore and purge', async () => {
  expect((await ctl(tdb, ['user', 'new', 'joe', 'joe@example.com', '-y'])).code).toBe(0);
  expect((await ctl(tdb, ['user', 'rm', 'joe'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'new', 'joe', 'joe2@example.com', '-y']);
  expect(r.code).toBe(4);
  expect(r.stderr).toBe(
    'nickname joe is already taken by the deleted account joe (soft-deleted, kept until purged): restore it with `ctl user restore joe`, or free it with `ctl user rm joe --purge`\n',
  );
  const byEmail = await ctl(tdb, ['user', 'new', 'joseph', 'joe@example.com', '-y']);
  expect(byEmail.code).toBe(4);
  expect(byEmail.stderr).toContain('email joe@example.com is already taken by the deleted account joe');
});

test('a live account keeps the short message', async () => {
  expect((await ctl(tdb, ['user', 'new', 'joe', 'joe@example.com', '-y'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'new', 'joe', 'joe2@example.com', '-y']);
  expect(r.stderr).toBe('nickname joe is already taken\n');
  expect(r.code).toBe(4);
});
