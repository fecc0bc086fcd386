import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { auditTrail, userRow } from '../../helpers/table-state';
import { seedFollowsAndSessions } from '../../helpers/cli-scenarios';
import type { DbHandle } from '../../../lib/db/db';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));
const user = (nickname: string) => withDb((db) => userRow(db, nickname));
const audit = () => withDb(auditTrail);
/** admin (the only admin); alice follows and is followed by bob and a remote user; alice has sessions. */
const seed = () => withDb(seedFollowsAndSessions);

describe('ctl user activate', () => {
  beforeEach(seed);

  test("activate: Pleroma's messages, audit row; already active is exit 0", async () => {
    await ctl(['user', 'deactivate', 'alice']);
    const r = await ctl(['user', 'activate', 'ALICE@example.com']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'Successfully activated alice\n' });
    expect((await user('alice'))?.active).toBe(true);
    expect((await audit())[1]).toMatchObject({ verb: 'activate', target_nickname: 'alice', details: { active: true } });
    expect(await ctl(['user', 'unban', 'alice'])).toMatchObject({ code: 0, stdout: 'User alice already activated\n' });
    expect(await audit()).toHaveLength(2);
  });

  test('remote users too; --json gives the result object', async () => {
    const d = await ctl(['user', 'deactivate', 'far@remote.example', '--json']);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toEqual({
      id: 4,
      nickname: 'far@remote.example',
      active: false,
      changed: true,
      unfollowed: 2,
      revokedSessions: 0,
      dryRun: false,
    });
    expect(d.stderr).toBe(
      'Successfully deactivated far@remote.example and unsubscribed all local followers\nRemoved 2 follows with local users, 0 sessions.\n',
    );
    const a = await ctl(['user', 'activate', 'far@remote.example', '--format', 'ndjson']);
    expect(JSON.parse(a.stdout)).toEqual({ id: 4, nickname: 'far@remote.example', active: true, changed: true, dryRun: false });
  });
});
