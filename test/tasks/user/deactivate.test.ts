import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { auditTrail, tableSnapshot, userRow } from '../../helpers/table-state';
import { followPairsInOrder, liveTokenKindsOf, seedFollowsAndSessions } from '../../helpers/cli-scenarios';
import type { DbHandle } from '../../../lib/db/db';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));
const state = () => withDb(tableSnapshot);
const user = (nickname: string) => withDb((db) => userRow(db, nickname));
const audit = () => withDb(auditTrail);
const follows = () => withDb(followPairsInOrder);
const liveTokens = (nickname: string) => withDb((db) => liveTokenKindsOf(db, nickname));
/** admin (the only admin); alice follows and is followed by bob and a remote user; alice has sessions. */
const seed = () => withDb(seedFollowsAndSessions);

describe('ctl user deactivate', () => {
  beforeEach(seed);

  test("deactivate: Pleroma's message, local follows gone both ways, sessions revoked, audit row with --reason", async () => {
    const r = await ctl(['user', 'deactivate', 'alice', '--reason', 'spam', '--actor', 'mod1']);
    expect(r).toMatchObject({
      code: 0,
      stderr: '',
      stdout: 'Successfully deactivated alice and unsubscribed all local followers\nRemoved 2 follows with local users, 3 sessions.\n',
    });
    expect((await user('alice'))?.active).toBe(false);
    expect(await follows()).toEqual(['far@remote.example>alice', 'alice>far@remote.example']);
    // The set-password link goes too: links work only in the state they were issued for.
    expect(await liveTokens('alice')).toEqual([]);
    expect(await liveTokens('bob')).toEqual(['access']);
    expect(await audit()).toEqual([
      {
        verb: 'deactivate',
        actor: 'mod1',
        target_nickname: 'alice',
        reason: 'spam',
        details: { active: false, unfollowed: 2, revokedSessions: 3, revokedLinks: 1 },
      },
    ]);
    const again = await ctl(['user', 'ban', 'alice']);
    expect(again).toMatchObject({ code: 0, stdout: 'User alice already deactivated\n' });
    expect(await audit()).toHaveLength(1);
  });

  test('--dry-run says what would change and writes nothing', async () => {
    const before = await state();
    expect(await ctl(['user', 'deactivate', 'alice', '--dry-run'])).toMatchObject({
      code: 0,
      stdout: 'alice would be deactivated; it would lose 2 follows with local users, 3 sessions (dry run)\n',
    });
    expect(await state()).toEqual(before);
    await ctl(['user', 'deactivate', 'bob']);
    const after = await state();
    expect(await ctl(['user', 'activate', 'bob', '--dry-run'])).toMatchObject({ code: 0, stdout: 'bob would be activated (dry run)\n' });
    expect(await state()).toEqual(after);
  });

  test('missing user: exit 3 "No user X"; last active admin: exit 4', async () => {
    const before = await state();
    for (const verb of ['activate', 'deactivate', 'ban', 'unban']) {
      expect(await ctl(['user', verb, 'nobody'])).toMatchObject({ code: 3, stdout: '', stderr: 'No user nobody\n' });
    }
    expect(await ctl(['user', 'deactivate', 'admin'])).toMatchObject({
      code: 4,
      stdout: '',
      stderr: 'refusing to deactivate admin: it is the last active admin (make another user admin first: ctl user set <user> --admin)\n',
    });
    expect(await state()).toEqual(before);
  });
});
