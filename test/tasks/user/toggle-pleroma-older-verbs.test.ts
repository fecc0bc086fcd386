import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12: Pleroma's older verbs were `Unknown commands`.
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

test('toggle_confirmed unconfirms (issuing a link), then confirms', async () => {
  const off = await ctl(tdb, ['user', 'toggle_confirmed', 'alice']);
  expect(off.code).toBe(0);
  expect((await show('alice')).confirmed).toBe(false);
  const on = await ctl(tdb, ['user', 'toggle_confirmed', 'alice']);
  expect(on.stdout).toBe('alice confirmed.\n');
  expect((await show('alice')).confirmed).toBe(true);
});

test('unsubscribe is deactivate; unsubscribe_all_from_instance is deactivate_all_from_instance', async () => {
  expect((await ctl(tdb, ['user', 'unsubscribe', 'alice'])).code).toBe(0);
  expect((await show('alice')).active).toBe(false);
  const r = await ctl(tdb, ['user', 'unsubscribe_all_from_instance', 'remote.example', '-y']);
  expect(r.code).toBe(0);
});

test('an unknown user is exit 3', async () => {
  expect((await ctl(tdb, ['user', 'toggle_activated', 'nobody'])).code).toBe(3);
});
