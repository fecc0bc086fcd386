import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12: runbooks written for Pleroma grep its `list` and `invites` lines.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

test('list --pleroma prints one Pleroma line per user', async () => {
  expect((await ctl(tdb, ['user', 'new', 'alice', 'alice@example.com', '--admin', '-y'])).code).toBe(0);
  expect((await ctl(tdb, ['user', 'new', 'bob', 'bob@example.com', '-y'])).code).toBe(0);
  expect((await ctl(tdb, ['user', 'deactivate', 'bob'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'list', '--pleroma']);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    'alice moderator: false, admin: true, locked: false, is_active: true\nbob moderator: false, admin: false, locked: false, is_active: false\n',
  );
});

test('invites --pleroma prints Invites list: and one ID line per invite', async () => {
  expect((await ctl(tdb, ['user', 'invite', '--max-use', '5', '--expires-at', '2099-01-01'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'invites', '--pleroma']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /^Invites list:\nID: 1 \| Token: \S+… \| Token type: reusable_date_limited \| Used: false \| Expires at: 2099-01-01 \| Uses: 0 \| Max use: 5\n$/,
  );
});

test('--pleroma with a data format is exit 2; the default table is unchanged', async () => {
  expect((await ctl(tdb, ['user', 'list', '--pleroma', '--json'])).code).toBe(2);
  expect((await ctl(tdb, ['user', 'list'])).stdout).toBe('(no rows)\n');
});
