import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Pleroma's older names of deactivate and deactivate_all_from_instance (issue 12: `Unknown command`).
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const show = async (nick: string) => JSON.parse((await ctl(tdb, ['user', 'show', nick, '--json'])).stdout) as { active: boolean; confirmed: boolean };

beforeEach(async () => {
  expect((await ctl(tdb, ['user', 'new', 'alice', 'alice@example.com', '-y'])).code).toBe(0);
});

test('unsubscribe is deactivate; unsubscribe_all_from_instance is deactivate_all_from_instance', async () => {
  expect((await ctl(tdb, ['user', 'unsubscribe', 'alice'])).code).toBe(0);
  expect((await show('alice')).active).toBe(false);
  const r = await ctl(tdb, ['user', 'unsubscribe_all_from_instance', 'remote.example', '-y']);
  expect(r.code).toBe(0);
});
