import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { auditTrail, tableSnapshot, userRow } from '../../helpers/table-state';
import { seedAccountsToDelete } from '../../helpers/cli-scenarios';
import type { DbHandle } from '../../../lib/db/db';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));
const state = () => withDb(tableSnapshot);
const user = (nickname: string) => withDb((db) => userRow(db, nickname));
const audit = () => withDb(auditTrail);
/** admin (the only admin), alice (5 activities, follows with bob both ways, 3 tokens), bob, a remote user. */
const seed = () => withDb(seedAccountsToDelete);

describe('ctl user restore', () => {
  beforeEach(seed);

  test('undoes a soft delete: listed and active again, audit row', async () => {
    await ctl(['user', 'rm', 'alice']);
    const dry = await ctl(['user', 'restore', 'alice', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: 'User alice would be restored (dry run)\n' });
    expect((await user('alice'))?.deleted_at).not.toBeNull();
    const r = await ctl(['user', 'restore', 'alice', '--reason', 'changed her mind']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'User alice restored.\n' });
    expect(await user('alice')).toMatchObject({ deleted_at: null, active: true });
    const list = await ctl(['user', 'list', '--json']);
    expect(JSON.parse(list.stdout).map((u: { nickname: string }) => u.nickname)).toEqual(['admin', 'alice', 'bob']);
    const rows = await audit();
    expect(rows[1]).toMatchObject({ verb: 'restore', target_nickname: 'alice', reason: 'changed her mind', details: { active: true } });
  });

  test('a deactivated account comes back deactivated, and says how to activate it; --json', async () => {
    await ctl(['user', 'deactivate', 'alice']);
    await ctl(['user', 'rm', 'alice']);
    const r = await ctl(['user', 'restore', 'alice', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ id: 2, nickname: 'alice', changed: true, active: false, deletedAt: expect.any(String), dryRun: false });
    expect(r.stderr).toBe('User alice restored.\nalice was deactivated when it was deleted and stays so: ctl user activate alice\n');
    expect(await user('alice')).toMatchObject({ deleted_at: null, active: false });
  });

  test('past the retention window: exit 4, still deleted', async () => {
    await ctl(['user', 'rm', 'alice']);
    await withDb((db) =>
      db
        .updateTable('users')
        .set({ deleted_at: new Date('2020-03-01T00:00:00Z') })
        .where('nickname', '=', 'alice')
        .execute(),
    );
    const before = await state();
    const r = await ctl(['user', 'restore', 'alice']);
    expect(r).toMatchObject({
      code: 4,
      stdout: '',
      stderr: 'cannot restore alice: deleted on 2020-03-01, more than 90 days ago (CTL_RETENTION_DAYS): past the retention window\n',
    });
    expect(await state()).toEqual(before);
  });

  test('not deleted: exit 0, nothing to do; missing or remote: exit 3', async () => {
    expect(await ctl(['user', 'restore', 'bob'])).toMatchObject({ code: 0, stdout: 'User bob is not deleted.\n' });
    expect(await audit()).toEqual([]);
    expect(await ctl(['user', 'restore', 'nobody'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
    expect(await ctl(['user', 'restore', 'far@remote.example'])).toMatchObject({ code: 3, stderr: 'No local user far@remote.example\n' });
  });
});
