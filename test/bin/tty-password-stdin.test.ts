import { runCtlDialogue } from '../helpers/tty-dialogue';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';

// Issue 12, bug 1: `new --password-stdin` at a terminal without -y. The password was read to
// Ctrl-D (echoed in clear), then `Continue? [n]` read from the ended stdin: nothing was created.
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.destroy());

test('the password is not echoed, and `y` at Continue? creates the user', async () => {
  const r = await runCtlDialogue(
    tdb,
    ['user', 'new', 'fay', 'fay@example.com', '--password-stdin'],
    [
      { waitFor: /Password \(not shown; then Enter\): $/, type: 'hunter2-secret\r' },
      { waitFor: /Continue\? \[n\] $/, type: 'y\r' },
    ],
  );
  expect(r.stdout).not.toContain('hunter2-secret');
  expect(r.stdout).toContain('User fay created');
  expect(r.code).toBe(0);
  const shown = await runCtl(tdb, ['user', 'show', 'fay', '--json']);
  expect(shown.code).toBe(0);
  expect(JSON.parse(shown.stdout).nickname).toBe('fay');
});

test('`n` (or Enter) at Continue? declines with exit 5 and creates nothing', async () => {
  const r = await runCtlDialogue(
    tdb,
    ['user', 'new', 'gil', 'gil@example.com', '--password-stdin'],
    [
      { waitFor: /Password \(not shown; then Enter\): $/, type: 'another-secret\r' },
      { waitFor: /Continue\? \[n\] $/, type: '\r' },
    ],
  );
  expect(r.stdout).not.toContain('another-secret');
  expect(r.stdout).toContain('User will not be created.');
  expect(r.code).toBe(5);
  expect((await runCtl(tdb, ['user', 'show', 'gil'])).code).toBe(3);
});

test('Ctrl-D ends the password as Enter does (the old prompt taught it)', async () => {
  const r = await runCtlDialogue(
    tdb,
    ['user', 'new', 'hal', 'hal@example.com', '--password-stdin'],
    [
      { waitFor: /Password \(not shown; then Enter\): $/, type: 'third-secret\u0004' },
      { waitFor: /Continue\? \[n\] $/, type: 'yes\r' },
    ],
  );
  expect(r.stdout).not.toContain('third-secret');
  expect(r.stdout).toContain('User hal created');
  expect(r.code).toBe(0);
});
