import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Pleroma's older toggle_confirmed (issue 12: it was `Unknown command`).
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const show = async (nick: string) => JSON.parse((await ctl(tdb, ['user', 'show', nick, '--json'])).stdout) as { active: boolean; confirmed: boolean };

beforeEach(async () => {
  expect((await ctl(tdb, ['user', 'new', 'alice', 'alice@example.com', '-y'])).code).toBe(0);
});

test('toggle_confirmed unconfirms (issuing a link), then confirms', async () => {
  const off = await ctl(tdb, ['user', 'toggle_confirmed', 'alice']);
  expect(off.code).toBe(0);
  expect((await show('alice')).confirmed).toBe(false);
  const on = await ctl(tdb, ['user', 'toggle_confirmed', 'alice']);
  expect(on.stdout).toBe('alice confirmed.\n');
  expect((await show('alice')).confirmed).toBe(true);
});
