import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12, bug 9, through the CLI, import and invites: one email rule for every way in.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const count = async () => JSON.parse((await ctl(tdb, ['user', 'count', '--json'])).stdout).total as number;

test('new refuses an email with a zero-width space (exit 2), naming the character', async () => {
  const r = await ctl(tdb, ['user', 'new', 'zw', 'z\u200bw@example.com', '-y']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('invisible or formatting character (U+200B)');
  expect(await count()).toBe(0);
});

test('a fullwidth twin of an existing email is taken (compared after NFKC)', async () => {
  expect((await ctl(tdb, ['user', 'new', 'zw', 'zw@example.com', '-y'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'new', 'zw2', 'ＺＷ@example.com', '-y']);
  expect(r.code).toBe(4);
  expect(await count()).toBe(1);
});

test('import refuses the row, and invite refuses the address', async () => {
  const r = await ctl(tdb, ['user', 'import', '-'], { input: 'nickname,email\nzw,z\u200bw@example.com\n' });
  expect(r.code).toBe(2);
  expect(r.stdout + r.stderr).toContain('U+200B');
  expect(await count()).toBe(0);
  const invite = await ctl(tdb, ['user', 'invite', '--email', 'z\u200bw@example.com']);
  expect(invite.code).toBe(2);
  expect(invite.stderr).toContain('U+200B');
});

test('set --email refuses it too', async () => {
  expect((await ctl(tdb, ['user', 'new', 'zw', 'zw@example.com', '-y'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'set', 'zw', '--email', 'zw\u2060@example.com']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('U+2060');
});
