import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12: Overleaf's delete-user --email= [--skip-email], and LibreChat's delete-user <email>.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

test('delete-user --email=joe@example.com --skip-email is rm; delete-user <email> too', async () => {
  expect((await ctl(tdb, ['user', 'create-user', '--email=joe@example.com,ann@example.com'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'delete-user', '--email=joe@example.com', '--skip-email']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('User joe deleted.');
  expect((await ctl(tdb, ['user', 'delete-user', 'ann@example.com'])).stdout).toContain('User ann deleted.');
  expect((await ctl(tdb, ['user', 'delete-user'])).code).toBe(2);
});
