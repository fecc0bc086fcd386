import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { auditTrail, tableSnapshot } from '../../helpers/table-state';
import { liveTokenKindsOf, seedFollowsAndSessions } from '../../helpers/cli-scenarios';
import type { DbHandle } from '../../../lib/db/db';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));
const state = () => withDb(tableSnapshot);
const audit = () => withDb(auditTrail);
const liveTokens = (nickname: string) => withDb((db) => liveTokenKindsOf(db, nickname));
/** admin (the only admin); alice follows and is followed by bob and a remote user; alice has sessions. */
const seed = () => withDb(seedFollowsAndSessions);

describe('ctl user sign_out', () => {
  beforeEach(seed);

  test('revokes every session, access/refresh token and authorization, says how many, audit row', async () => {
    const r = await ctl(['user', 'sign_out', 'alice']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'alice signed out from all apps.\nRevoked 3 tokens (access 1, refresh 1, authorization 1).\n' });
    expect(await liveTokens('alice')).toEqual(['password_reset']);
    expect(await liveTokens('bob')).toEqual(['access']);
    expect(await audit()).toEqual([
      { verb: 'sign_out', actor: 'tester', target_nickname: 'alice', reason: null, details: { revoked: { access: 1, refresh: 1, authorization: 1 } } },
    ]);
    const again = await ctl(['user', 'sign-out', 'alice', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ id: 2, nickname: 'alice', revoked: { access: 0, refresh: 0, authorization: 0 }, total: 0, dryRun: false });
    expect(again.stderr).toBe('alice signed out from all apps.\nRevoked 0 tokens (access 0, refresh 0, authorization 0).\n');
    expect(await audit()).toHaveLength(1);
  });

  test('--dry-run counts and writes nothing; remote or missing: exit 3 "No local user X"', async () => {
    const before = await state();
    expect(await ctl(['user', 'sign_out', 'alice', '--dry-run'])).toMatchObject({
      code: 0,
      stdout: 'alice would be signed out from all apps: 3 tokens would be revoked (access 1, refresh 1, authorization 1) (dry run)\n',
    });
    expect(await ctl(['user', 'sign_out', 'far@remote.example'])).toMatchObject({ code: 3, stderr: 'No local user far@remote.example\n' });
    expect(await ctl(['user', 'sign_out', 'nobody'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
    expect(await state()).toEqual(before);
  });
});
