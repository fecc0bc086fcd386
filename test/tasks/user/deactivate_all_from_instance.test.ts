import { sql } from 'kysely';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { auditTrail, tableSnapshot } from '../../helpers/table-state';
import { followPairsInOrder, seedSpamInstance } from '../../helpers/cli-scenarios';
import type { DbHandle } from '../../../lib/db/db';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));
const state = () => withDb(tableSnapshot);
const audit = () => withDb(auditTrail);
const follows = () => withDb(followPairsInOrder);

describe('ctl user deactivate_all_from_instance', () => {
  beforeEach(() => withDb(seedSpamInstance));

  const PLAN = [
    '12 active users from spam.example: s1@spam.example, s2@spam.example, s3@spam.example, s4@spam.example, s5@spam.example, s6@spam.example, s7@spam.example, s8@spam.example, s9@spam.example, s10@spam.example (and 2 more)',
    'Their 2 follows with local users will be removed.',
  ];

  test('-y: only users of exactly that host, in batches, a summary, an audit row each', async () => {
    const r = await ctl(['user', 'deactivate_all_from_instance', 'Spam.Example', '-y', '--batch-size', '5']);
    expect(r).toMatchObject({
      code: 0,
      stderr: '',
      stdout: [...PLAN, 'Deactivated 12 users from spam.example, removed 2 follows with local users, revoked 0 sessions.', ''].join('\n'),
    });
    const { rows } = await withDb((db) => sql<{ nickname: string }>`SELECT nickname FROM users WHERE active ORDER BY id`.execute(db));
    expect(rows.map((u) => u.nickname)).toEqual(['alice', 'x@spam.example.com', 'y@sub.spam.example']);
    expect(await follows()).toEqual([]);
    const rowsAudit = await audit();
    expect(rowsAudit).toHaveLength(12);
    expect(rowsAudit[11]).toEqual({
      verb: 'deactivate_all_from_instance',
      actor: 'tester',
      target_nickname: 's12@spam.example',
      reason: null,
      details: { instance: 'spam.example', batch: 3, active: false },
    });
    const again = await ctl(['user', 'deactivate_all_from_instance', 'spam.example', '-y']);
    expect(again).toMatchObject({ code: 0, stdout: 'No active users from spam.example.\n' });
  });

  test('--dry-run lists and counts, writes nothing; no -y on a pipe: exit 5 (a TTY "n": test/bin/tty-prompts.test.ts)', async () => {
    const before = await state();
    expect(await ctl(['user', 'deactivate_all_from_instance', 'spam.example', '--dry-run'])).toMatchObject({
      code: 0,
      stdout: [...PLAN, '12 users from spam.example would be deactivated (dry run)', ''].join('\n'),
    });
    expect(await ctl(['user', 'deactivate_all_from_instance', 'spam.example'])).toMatchObject({
      code: 5,
      stderr: 'refusing to deactivate the users of spam.example without confirmation: stdin is not a terminal; pass -y to confirm\n',
    });
    expect(await state()).toEqual(before);
  });

  test('--json gives the summary; a bad host is exit 2', async () => {
    const r = await ctl(['user', 'deactivate-all-from-instance', 'spam.example', '-y', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ instance: 'spam.example', deactivated: 12, unfollowed: 2, revokedSessions: 0, batches: 1, dryRun: false });
    const bad = await ctl(['user', 'deactivate_all_from_instance', '%spam%', '-y']);
    expect(bad).toMatchObject({ code: 2, stdout: '', stderr: 'invalid instance "%spam%": expected a host name like example.com\n' });
  });
});
