import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { auditTrail, tableSnapshot } from '../../helpers/table-state';
import { seedFollowsAndSessions } from '../../helpers/cli-scenarios';
import type { DbHandle } from '../../../lib/db/db';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));
const state = () => withDb(tableSnapshot);
const audit = () => withDb(auditTrail);
/** admin (the only admin); alice follows and is followed by bob and a remote user; alice has sessions. */
const seed = () => withDb(seedFollowsAndSessions);

describe('ctl user delete_activities', () => {
  beforeEach(seed);

  test("-y: deletes the user's activities in batches, Pleroma's message, an audit row per batch", async () => {
    const r = await ctl(['user', 'delete_activities', 'alice', '-y', '--batch-size', '3']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'User alice statuses deleted.\nDeleted 7 activities in 3 batches.\n' });
    const left = await withDb((db) => db.selectFrom('activities').select('actor_id').execute());
    expect(left.map((a) => a.actor_id)).toEqual([3, 3]);
    expect((await audit()).map((a) => [a.verb, a.target_nickname, a.details])).toEqual([
      ['delete_activities', 'alice', { batch: 1, activities: 3 }],
      ['delete_activities', 'alice', { batch: 2, activities: 3 }],
      ['delete_activities', 'alice', { batch: 3, activities: 1 }],
    ]);
  });

  test('asks with the count: no TTY and no -y is exit 5, nothing deleted (the TTY questions: test/bin/tty-prompts.test.ts)', async () => {
    const before = await state();
    expect(await ctl(['user', 'delete_activities', 'alice'])).toMatchObject({
      code: 5,
      stdout: '',
      stderr: 'refusing to delete 7 activities of alice without confirmation: stdin is not a terminal; pass -y to confirm\n',
    });
    expect(await state()).toEqual(before);
  });

  test('--dry-run and --json', async () => {
    const before = await state();
    expect(await ctl(['user', 'delete_activities', 'alice', '--dry-run'])).toMatchObject({
      code: 0,
      stdout: '7 activities of alice would be deleted (dry run)\n',
    });
    expect(await state()).toEqual(before);
    const r = await ctl(['user', 'delete-activities', 'alice', '-y', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ id: 2, nickname: 'alice', dryRun: false, deleted: 7, batches: 1 });
  });

  test('nothing to delete: no question, exit 0; remote or missing: exit 3', async () => {
    await withDb((db) => db.deleteFrom('activities').execute());
    expect(await ctl(['user', 'delete_activities', 'alice'])).toMatchObject({
      code: 0,
      stdout: 'User alice statuses deleted.\nDeleted 0 activities in 1 batch.\n',
    });
    expect(await ctl(['user', 'delete_activities', 'far@remote.example', '-y'])).toMatchObject({ code: 3, stderr: 'No local user far@remote.example\n' });
    expect(await ctl(['user', 'delete_activities', 'nobody', '-y'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
  });
});
