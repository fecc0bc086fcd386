import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12, bug 7: `-dash` was read as `-d -a -s -h`: the help, exit 0, for a typo.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

test('user new -dash dash@example.com -y is a usage error (exit 2), not the help', async () => {
  const r = await ctl(tdb, ['user', 'new', '-dash', 'dash@example.com', '-y']);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain('unknown option -dash');
  expect((await ctl(tdb, ['user', 'count', '--json'])).stdout).toContain('"total": 0');
});

test('clusters of the one-letter options still work: -yq', async () => {
  const r = await ctl(tdb, ['user', 'new', 'dash', 'dash@example.com', '-yq', '--password-stdin'], { input: 'a-long-password\n' });
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('');
});

test('import - (stdin) is not an option cluster', async () => {
  const r = await ctl(tdb, ['user', 'import', '-', '-q'], { input: 'nickname,email\nann,ann@example.com\n' });
  expect(r.code).toBe(0);
});
