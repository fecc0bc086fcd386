import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { seedActivities, seedFollow, seedToken, seedUser } from '../../helpers/seed-users';
import { auditTrail, tableSnapshot, userRow } from '../../helpers/table-state';
import { ownedRowCounts } from '../../helpers/cli-scenarios';
import type { DbHandle } from '../../../lib/db/db';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const DAY = 86400e3;
const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));
const state = () => withDb(tableSnapshot);
const user = (nickname: string) => withDb((db) => userRow(db, nickname));
const audit = () => withDb(auditTrail);
const counts = () => withDb(ownedRowCounts);

describe('ctl user purge_deleted', () => {
  const ago = (days: number) => new Date(Date.now() - days * DAY);

  beforeEach(async () => {
    await withDb(async (db) => {
      const old1 = await seedUser(db, { nickname: 'old1', deletedAt: ago(200), active: false });
      const old2 = await seedUser(db, { nickname: 'old2', deletedAt: ago(100), active: false });
      await seedUser(db, { nickname: 'recent', deletedAt: ago(40), active: false });
      const alive = await seedUser(db, { nickname: 'alive' });
      await seedActivities(db, old1, 3);
      await seedActivities(db, old2, 1);
      await seedActivities(db, alive, 2);
      await seedFollow(db, old1, alive);
      await seedToken(db, old2, 'access', { revokedAt: ago(100) });
    });
  });

  const PLAN = (cutoff: string) => [
    `2 accounts deleted before ${cutoff} will be purged: old1, old2`,
    'Rows to delete:',
    '  users      2',
    '  activities 4',
    '  follows    1',
    '  tokens     1',
  ];

  test('-y purges accounts deleted longer ago than the retention window, and prints what was deleted', async () => {
    const r = await ctl(['user', 'purge_deleted', '-y']);
    expect(r.code).toBe(0);
    const cutoff = /deleted before (\S+) will be purged/.exec(r.stdout)![1];
    expect(Math.abs(Date.parse(cutoff) - (Date.now() - 90 * DAY))).toBeLessThan(60e3);
    expect(r.stdout).toBe(
      [
        ...PLAN(cutoff),
        `Purged 2 accounts deleted before ${cutoff}.`,
        'Deleted:',
        '  users      2',
        '  activities 4',
        '  follows    1',
        '  tokens     1',
        '',
      ].join('\n'),
    );
    expect(await counts()).toEqual({ users: 2, activities: 2, follows: 0, tokens: 0 });
    expect(await user('recent')).toBeDefined();
    const accounts = (await audit()).filter((a) => a.target_nickname !== null);
    expect(accounts.map((a) => [a.verb, a.target_nickname])).toEqual([
      ['purge_deleted', 'old1'],
      ['purge_deleted', 'old2'],
    ]);
    // The cron job's next run: nothing to do, exit 0.
    const again = await ctl(['user', 'purge_deleted', '-y']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^No account deleted before \S+ to purge\.\n$/);
  });

  test('--older-than widens or narrows the window; --json gives the summary', async () => {
    const r = await ctl(['user', 'purge_deleted', '--older-than', '30d', '-y', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({
      cutoff: expect.any(String),
      dryRun: false,
      deleted: { users: 3, activities: 4, follows: 1, tokens: 1 },
      batches: expect.any(Number),
    });
    expect(Math.abs(Date.parse(out.cutoff) - (Date.now() - 30 * DAY))).toBeLessThan(60e3);
    expect(await counts()).toMatchObject({ users: 1 });
  });

  test('--dry-run lists and counts, writes nothing; no -y on a pipe: exit 5', async () => {
    const before = await state();
    const dry = await ctl(['user', 'purge_deleted', '--dry-run']);
    expect(dry.code).toBe(0);
    const cutoff = /deleted before (\S+) will be purged/.exec(dry.stdout)![1];
    expect(dry.stdout).toBe([...PLAN(cutoff), '2 accounts would be purged (dry run)', ''].join('\n'));
    const refused = await ctl(['user', 'purge_deleted']);
    expect(refused).toMatchObject({
      code: 5,
      stderr: 'refusing to purge deleted accounts without confirmation: stdin is not a terminal; pass -y to confirm\n',
    });
    expect(await state()).toEqual(before);
  });

  test.each([['3x'], ['90'], ['d']])('--older-than %s: exit 2', async (value) => {
    const r = await ctl(['user', 'purge_deleted', '--older-than', value, '-y']);
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: `invalid --older-than "${value}": expected a duration like 90d, 12w or 24h\n` });
    expect(await counts()).toMatchObject({ users: 4 });
  });
});
