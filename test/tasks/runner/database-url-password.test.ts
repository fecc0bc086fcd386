import { ctl } from '../../helpers/in-process';

// Issue 13: a password given on the command line is visible in the process table, as --password warns.
const WARNING = 'warning: --database-url holds a password, visible to every user of this machine in the process table';

test.each([
  ['in the user part', 'postgres://app:s3cret-pw@127.0.0.1:1/x'],
  ['in the query', 'postgres://app@127.0.0.1:1/x?password=s3cret-pw'],
])('--database-url with a password %s warns on stderr, without the password', async (_where, url) => {
  const r = await ctl(null, ['user', 'list', '--database-url', url]);
  expect(r.stderr).toContain(WARNING);
  expect(r.stderr).not.toContain('s3cret-pw');
  expect(r.code).toBe(6);
});

test('--database-url without a password does not warn', async () => {
  const r = await ctl(null, ['user', 'list', '--database-url', 'postgres://app@127.0.0.1:1/x']);
  expect(r.stderr).not.toContain('warning');
  expect(r.code).toBe(6);
});
