import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12: LibreChat's positional forms said `Unknown command: grace` / `NewSecurePass123`.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const WARNING = 'warning: --password is visible to every user of this machine in the process table; use --password-stdin or --password-file\n';
const show = async (nick: string) => JSON.parse((await ctl(tdb, ['user', 'show', nick, '--json'])).stdout);

test('new <email> <name> <username> creates grace with that name', async () => {
  const r = await ctl(tdb, ['user', 'new', 'grace@example.com', 'Grace Hopper', 'grace', '-y']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('User grace created');
  expect(await show('grace')).toMatchObject({ nickname: 'grace', email: 'grace@example.com', name: 'Grace Hopper', confirmed: true });
});

test('a fourth positional is the password, with the --password warning; --email-verified=false leaves it unconfirmed', async () => {
  const r = await ctl(tdb, ['user', 'new', 'ada@example.com', 'Ada Lovelace', 'ada', 'Secure-Pass-123', '--email-verified=false', '-y']);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(WARNING);
  expect(r.stdout).toContain('  - password: [given]');
  expect(await show('ada')).toMatchObject({ name: 'Ada Lovelace', confirmed: false });
});

test('reset_password alice NewSecurePass123 sets it, with the warning', async () => {
  expect((await ctl(tdb, ['user', 'new', 'alice', 'alice@example.com', '-y'])).code).toBe(0);
  const r = await ctl(tdb, ['user', 'reset_password', 'alice', 'NewSecurePass123']);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe(WARNING);
  expect(r.stdout).toBe('Password of alice changed; 0 sessions signed out\n');
});

test('a password both as an argument and as an option, or a fifth argument, is exit 2', async () => {
  expect((await ctl(tdb, ['user', 'new', 'alice', 'alice@example.com', '-y'])).code).toBe(0);
  expect((await ctl(tdb, ['user', 'reset_password', 'alice', 'NewSecurePass123', '--password-stdin'], { input: 'x-other-pass\n' })).code).toBe(2);
  expect((await ctl(tdb, ['user', 'new', 'a@example.com', 'A', 'a', 'Secure-Pass-123', 'extra', '-y'])).code).toBe(2);
  expect((await ctl(tdb, ['user', 'new', 'bob', 'bob@example.com', 'extra', '-y'])).code).toBe(2);
});

test('the Pleroma forms are unchanged', async () => {
  expect((await ctl(tdb, ['user', 'new', 'bob', 'bob@example.com', '-y'])).code).toBe(0);
  expect((await ctl(tdb, ['user', 'new', 'carol@example.com', '-y'])).code).toBe(0);
  expect(await show('carol')).toMatchObject({ nickname: 'carol', name: 'carol' });
});

// LibreChat's name "defaults to email prefix", ctl's to the nickname; `set --name ''` refuses a
// blank one. An empty name argument (or --name '  ') stored a blank name all the same.
test.each([[['kim@example.com', '', 'kim']], [['kim', 'kim@example.com', '--name', '   ']], [['kim@example.com', '--name', '']]])(
  'new %j: a blank name is the nickname, as with no name',
  async (args) => {
    const r = await ctl(tdb, ['user', 'new', ...args, '-y']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  - name: kim\n');
    expect(await show('kim')).toMatchObject({ nickname: 'kim', name: 'kim' });
  },
);
