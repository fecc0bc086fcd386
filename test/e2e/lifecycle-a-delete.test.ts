import { sql } from 'kysely';
import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtl, runCtlOnTty } from '../helpers/cli';
import { auditTrail, seedActivities, seedFollow, seedToken, seedUser, tableSnapshot, userRow } from '../helpers/lifecycle-a-seed';
import type { DbHandle } from '../../lib/db/db';

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

const DAY = 86400e3;
const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);
const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));

const state = () => withDb(tableSnapshot);
const user = (nickname: string) => withDb((db) => userRow(db, nickname));
const audit = () => withDb(auditTrail);
const counts = () =>
  withDb(async (db) => {
    const { rows } = await sql<Record<string, number>>`
      SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM activities) AS activities,
             (SELECT count(*)::int FROM follows) AS follows, (SELECT count(*)::int FROM tokens) AS tokens`.execute(db);
    return rows[0];
  });
const day = (d: Date) => d.toISOString().slice(0, 10);

/** admin (the only admin), alice (5 activities, follows with bob both ways, 3 tokens), bob, a remote user. */
async function seed(): Promise<void> {
  await withDb(async (db) => {
    await seedUser(db, { nickname: 'admin', admin: true });
    const alice = await seedUser(db, { nickname: 'alice' });
    const bob = await seedUser(db, { nickname: 'bob' });
    await seedUser(db, { nickname: 'far@remote.example' });
    await seedActivities(db, alice, 5);
    await seedActivities(db, bob, 2);
    await seedFollow(db, alice, bob);
    await seedFollow(db, bob, alice);
    await seedToken(db, alice, 'access');
    await seedToken(db, alice, 'refresh');
    await seedToken(db, alice, 'password_reset', { revokedAt: new Date('2020-01-01') });
    await seedToken(db, bob, 'access');
  });
}

describe('ctl user rm (soft delete)', () => {
  beforeEach(seed);

  test('--help shows the usage and examples', async () => {
    const r = await runCtl(null, ['user', 'rm', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ctl user rm <user>');
    expect(r.stdout).toContain('--purge');
    expect(r.stdout).toMatch(/Examples:\n\s+ctl user rm alice /);
  });

  test('prints "User alice deleted.", marks it deleted, revokes its tokens, keeps its data, writes an audit row', async () => {
    const r = await ctl(['user', 'rm', 'alice', '--reason', 'asked to leave', '--actor', 'ops']);
    const row = await user('alice');
    expect(row).toMatchObject({ active: false });
    expect(row!.deleted_at).toBeInstanceOf(Date);
    const until = day(new Date(row!.deleted_at!.getTime() + 90 * DAY));
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `User alice deleted.\nRestorable until ${until} with: ctl user restore alice\n` });
    expect(await counts()).toEqual({ users: 4, activities: 7, follows: 2, tokens: 4 });
    const live = await withDb((db) => db.selectFrom('tokens').select('id').where('user_id', '=', row!.id).where('revoked_at', 'is', null).execute());
    expect(live).toEqual([]);
    expect(await audit()).toEqual([{ verb: 'rm', actor: 'ops', target_nickname: 'alice', reason: 'asked to leave', details: { soft: true, wasActive: true, revokedTokens: 2 } }]);
  });

  test('the deleted account is hidden from list and shown with --deleted', async () => {
    await ctl(['user', 'rm', 'alice']);
    const list = await ctl(['user', 'list', '--json']);
    expect(JSON.parse(list.stdout).map((u: { nickname: string }) => u.nickname)).toEqual(['admin', 'bob']);
    const deleted = await ctl(['user', 'list', '--deleted', '--json']);
    expect(JSON.parse(deleted.stdout)).toMatchObject([{ nickname: 'alice', deleted: true, active: false }]);
  });

  test('--json prints the result object; a second rm is "already deleted", exit 0, no second audit row', async () => {
    const r = await ctl(['user', 'rm', 'ALICE@example.com', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^User alice deleted\.\nRestorable until \d{4}-\d\d-\d\d with: ctl user restore alice\n$/);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({ id: 2, nickname: 'alice', changed: true, deletedAt: expect.any(String), restorableUntil: expect.any(String), revokedTokens: 2, dryRun: false });
    expect(Date.parse(out.restorableUntil) - Date.parse(out.deletedAt)).toBe(90 * DAY);
    const again = await ctl(['user', 'rm', 'alice']);
    expect(again).toMatchObject({ code: 0, stdout: 'User alice already deleted.\n', stderr: '' });
    expect(await audit()).toHaveLength(1);
  });

  test('CTL_RETENTION_DAYS sets the window', async () => {
    const r = await ctl(['user', 'rm', 'alice', '--json'], { env: { CTL_RETENTION_DAYS: '7' } });
    const out = JSON.parse(r.stdout);
    expect(Date.parse(out.restorableUntil) - Date.parse(out.deletedAt)).toBe(7 * DAY);
  });

  test('--dry-run says what would change and writes nothing', async () => {
    const before = await state();
    const r = await ctl(['user', 'rm', 'alice', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^User alice would be deleted: deactivated, 2 tokens revoked, restorable until \d{4}-\d\d-\d\d \(dry run\)\n$/);
    expect(await state()).toEqual(before);
  });

  test.each([
    ['nobody', 'No local user nobody\n'],
    ['far@remote.example', 'No local user far@remote.example\n'],
  ])('%s: exit 3 with Pleroma\'s message', async (ref, message) => {
    const before = await state();
    for (const args of [['user', 'rm', ref], ['user', 'rm', ref, '--purge', '-y'], ['user', 'rm', ref, '--dry-run']]) {
      expect(await ctl(args)).toMatchObject({ code: 3, stdout: '', stderr: message });
    }
    expect(await state()).toEqual(before);
  });

  test('the last active admin: exit 4, nothing changed', async () => {
    const before = await state();
    const message = 'refusing to delete admin: it is the last active admin (make another user admin first: ctl user set <user> --admin)\n';
    expect(await ctl(['user', 'rm', 'admin'])).toMatchObject({ code: 4, stdout: '', stderr: message });
    expect(await ctl(['user', 'rm', 'admin', '--purge', '-y'])).toMatchObject({ code: 4, stdout: '', stderr: message });
    expect(await ctl(['user', 'rm', 'admin', '--dry-run'])).toMatchObject({ code: 4, stderr: message });
    expect(await state()).toEqual(before);
  });
});

describe('ctl user rm --purge', () => {
  beforeEach(seed);

  const PLAN = [
    'This user and everything it owns will be deleted permanently:',
    '  - nickname: alice',
    '  - email: alice@example.com',
    '  - id: 2',
    '  - status: active',
    'Rows to delete:',
    '  users      1',
    '  activities 5',
    '  follows    2',
    '  tokens     3',
  ];
  const SUMMARY = ['User alice deleted.', 'Deleted:', '  users      1', '  activities 5', '  follows    2', '  tokens     3'];

  test('-y: shows the user and the counts, deletes everything it owns, prints what was deleted', async () => {
    const r = await ctl(['user', 'rm', 'alice', '--purge', '-y', '--batch-size', '2']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: [...PLAN, ...SUMMARY, ''].join('\n') });
    expect(await user('alice')).toBeUndefined();
    expect(await counts()).toEqual({ users: 3, activities: 2, follows: 0, tokens: 1 });
    const rows = await audit();
    expect(rows.map((a) => a.details)).toEqual([
      { soft: true, purge: true, wasActive: true, revokedTokens: 2 },
      { purge: true, stage: 'activities', batch: 1, activities: 2 },
      { purge: true, stage: 'activities', batch: 2, activities: 2 },
      { purge: true, stage: 'activities', batch: 3, activities: 1 },
      { purge: true, stage: 'account', deleted: { users: 1, activities: 5, follows: 2, tokens: 3 } },
    ]);
    expect(new Set(rows.map((a) => `${a.verb} ${a.target_nickname}`))).toEqual(new Set(['rm alice']));
  });

  test('no TTY and no -y: exit 5 after the plan, nothing deleted', async () => {
    const before = await state();
    const r = await ctl(['user', 'rm', 'alice', '--purge']);
    expect(r).toMatchObject({ code: 5, stdout: [...PLAN, ''].join('\n'), stderr: 'refusing to delete alice permanently without confirmation: stdin is not a terminal; pass -y to confirm\n' });
    expect(await state()).toEqual(before);
  });

  test('on a TTY it asks [y/N]: "n" keeps everything (exit 5), "y" deletes', async () => {
    const before = await state();
    const no = await runCtlOnTty(tdb, ['user', 'rm', 'alice', '--purge'], 'n\n');
    expect(no.code).toBe(5);
    expect(no.stdout).toContain('Delete alice and everything it owns, permanently? [y/N] ');
    expect(no.stdout).toContain('User alice will not be deleted.');
    expect(await state()).toEqual(before);
    const yes = await runCtlOnTty(tdb, ['user', 'rm', 'alice', '--purge'], 'y\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain(SUMMARY.join('\n'));
    expect(await user('alice')).toBeUndefined();
  });

  test('--dry-run shows the plan and writes nothing; --json gives the counts', async () => {
    const before = await state();
    const r = await ctl(['user', 'rm', 'alice', '--purge', '--dry-run']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: [...PLAN, 'User alice would be deleted with everything it owns (dry run)', ''].join('\n') });
    const j = await ctl(['user', 'rm', 'alice', '--purge', '--dry-run', '--json']);
    expect(JSON.parse(j.stdout)).toEqual({ id: 2, nickname: 'alice', purge: true, dryRun: true, wouldDelete: { users: 1, activities: 5, follows: 2, tokens: 3 } });
    expect(await state()).toEqual(before);
  });

  test('--json: the result object only on stdout', async () => {
    const r = await ctl(['user', 'rm', 'alice', '--purge', '-y', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ id: 2, nickname: 'alice', purge: true, dryRun: false, deleted: { users: 1, activities: 5, follows: 2, tokens: 3 } });
    expect(r.stderr).toContain('User alice deleted.');
  });

  test('a soft-deleted account can be purged', async () => {
    await ctl(['user', 'rm', 'alice']);
    const r = await ctl(['user', 'rm', 'alice', '--purge', '-y']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/  - status: deleted on \d{4}-\d\d-\d\d\n/);
    expect(await user('alice')).toBeUndefined();
  });

  test.each([['0'], ['-3'], ['1.5'], ['lots']])('--batch-size %s: exit 2', async (size) => {
    const before = await state();
    const r = await ctl(['user', 'rm', 'alice', '--purge', '-y', '--batch-size', size]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^--batch-size must be a whole number from 1 to 1000000, got /);
    expect(await state()).toEqual(before);
  });
});

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
    await withDb((db) => db.updateTable('users').set({ deleted_at: new Date('2020-03-01T00:00:00Z') }).where('nickname', '=', 'alice').execute());
    const before = await state();
    const r = await ctl(['user', 'restore', 'alice']);
    expect(r).toMatchObject({ code: 4, stdout: '', stderr: 'cannot restore alice: deleted on 2020-03-01, more than 90 days ago (CTL_RETENTION_DAYS): past the retention window\n' });
    expect(await state()).toEqual(before);
  });

  test('not deleted: exit 0, nothing to do; missing or remote: exit 3', async () => {
    expect(await ctl(['user', 'restore', 'bob'])).toMatchObject({ code: 0, stdout: 'User bob is not deleted.\n' });
    expect(await audit()).toEqual([]);
    expect(await ctl(['user', 'restore', 'nobody'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
    expect(await ctl(['user', 'restore', 'far@remote.example'])).toMatchObject({ code: 3, stderr: 'No local user far@remote.example\n' });
  });
});

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
    expect(r.stdout).toBe([...PLAN(cutoff), `Purged 2 accounts deleted before ${cutoff}.`, 'Deleted:', '  users      2', '  activities 4', '  follows    1', '  tokens     1', ''].join('\n'));
    expect(await counts()).toEqual({ users: 2, activities: 2, follows: 0, tokens: 0 });
    expect(await user('recent')).toBeDefined();
    const accounts = (await audit()).filter((a) => a.target_nickname !== null);
    expect(accounts.map((a) => [a.verb, a.target_nickname])).toEqual([['purge_deleted', 'old1'], ['purge_deleted', 'old2']]);
    // The cron job's next run: nothing to do, exit 0.
    const again = await ctl(['user', 'purge_deleted', '-y']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^No account deleted before \S+ to purge\.\n$/);
  });

  test('--older-than widens or narrows the window; --json gives the summary', async () => {
    const r = await ctl(['user', 'purge_deleted', '--older-than', '30d', '-y', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({ cutoff: expect.any(String), dryRun: false, deleted: { users: 3, activities: 4, follows: 1, tokens: 1 }, batches: expect.any(Number) });
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
    expect(refused).toMatchObject({ code: 5, stderr: 'refusing to purge deleted accounts without confirmation: stdin is not a terminal; pass -y to confirm\n' });
    expect(await state()).toEqual(before);
  });

  test.each([['3x'], ['90'], ['d']])('--older-than %s: exit 2', async (value) => {
    const r = await ctl(['user', 'purge_deleted', '--older-than', value, '-y']);
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: `invalid --older-than "${value}": expected a duration like 90d, 12w or 24h\n` });
    expect(await counts()).toMatchObject({ users: 4 });
  });
});
