import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

describe('ctl user show', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--admin']);
    await ctl(['user', 'new', 'bob', 'bob@example.com', '-y', '--no-confirmed']);
  });

  test('show gives every field and counts; unknown user is exit 3', async () => {
    const r = await ctl(['user', 'show', 'BOB@example.com', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      nickname: 'bob',
      confirmed: false,
      counts: { activities: 0, followers: 0, following: 0, activeSessions: 0, tags: 0 },
    });
    const stats = await ctl(['user', 'stats', 'alice']);
    expect(stats.stdout).toMatch(/^nickname\s+alice$/m);
    const missing = await ctl(['user', 'show', 'nobody']);
    expect(missing).toMatchObject({ code: 3, stdout: '', stderr: 'No user nobody\n' });
  });

  test('show gives the provider: local for a password account, the identity provider for an SSO account', async () => {
    expect(JSON.parse((await ctl(['user', 'show', 'alice', '--json'])).stdout).provider).toBe('local');
    await tdb.withDb((h) => h.db.updateTable('users').set({ provider: 'ldap' }).where('nickname', '=', 'bob').execute());
    expect(JSON.parse((await ctl(['user', 'show', 'bob', '--json'])).stdout).provider).toBe('ldap');
    expect((await ctl(['user', 'show', 'bob'])).stdout).toMatch(/^provider\s+ldap$/m);
  });
});
