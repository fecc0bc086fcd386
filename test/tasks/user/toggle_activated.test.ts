import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Pleroma's older toggle_activated (issue 12: it was `Unknown command`).
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const show = async (nick: string) => JSON.parse((await ctl(tdb, ['user', 'show', nick, '--json'])).stdout) as { active: boolean; confirmed: boolean };

beforeEach(async () => {
  expect((await ctl(tdb, ['user', 'new', 'alice', 'alice@example.com', '-y'])).code).toBe(0);
});

test('toggle_activated deactivates an active user, then activates her again', async () => {
  const off = await ctl(tdb, ['user', 'toggle_activated', 'alice']);
  expect(off.code).toBe(0);
  expect((await show('alice')).active).toBe(false);
  const on = await ctl(tdb, ['user', 'toggle-activated', 'alice']);
  expect(on.stdout).toBe('Successfully activated alice\n');
  expect((await show('alice')).active).toBe(true);
});

test('an unknown user is exit 3', async () => {
  expect((await ctl(tdb, ['user', 'toggle_activated', 'nobody'])).code).toBe(3);
});
