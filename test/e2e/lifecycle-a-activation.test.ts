import { sql } from 'kysely';
import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { spawn } from 'node:child_process';
import { CTL, ctlEnv, runCtl, runCtlOnTty } from '../helpers/cli';
import { auditTrail, seedActivities, seedFollow, seedToken, seedUser, seedUsers, tableSnapshot, userRow } from '../helpers/lifecycle-a-seed';
import type { DbHandle } from '../../lib/db/db';

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);
const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));

const state = () => withDb(tableSnapshot);
const user = (nickname: string) => withDb((db) => userRow(db, nickname));
const audit = () => withDb(auditTrail);
const follows = () =>
  withDb(async (db) => {
    const { rows } = await sql<{ pair: string }>`
      SELECT a.nickname || '>' || b.nickname AS pair FROM follows f
      JOIN users a ON a.id = f.follower_id JOIN users b ON b.id = f.following_id ORDER BY f.id`.execute(db);
    return rows.map((r) => r.pair);
  });
const liveTokens = (nickname: string) =>
  withDb(async (db) => {
    const rows = await db.selectFrom('tokens').innerJoin('users', 'users.id', 'tokens.user_id').select('tokens.kind').where('users.nickname', '=', nickname).where('tokens.revoked_at', 'is', null).orderBy('tokens.id').execute();
    return rows.map((r) => r.kind);
  });

/** admin (the only admin); alice follows and is followed by bob and a remote user; alice has sessions. */
async function seed(): Promise<void> {
  await withDb(async (db) => {
    await seedUser(db, { nickname: 'admin', admin: true });
    const alice = await seedUser(db, { nickname: 'alice' });
    const bob = await seedUser(db, { nickname: 'bob' });
    const far = await seedUser(db, { nickname: 'far@remote.example' });
    await seedFollow(db, alice, bob);
    await seedFollow(db, bob, alice);
    await seedFollow(db, far, alice);
    await seedFollow(db, alice, far);
    await seedToken(db, alice, 'access');
    await seedToken(db, alice, 'refresh');
    await seedToken(db, alice, 'authorization');
    await seedToken(db, alice, 'password_reset');
    await seedToken(db, bob, 'access');
    await seedActivities(db, alice, 7);
    await seedActivities(db, bob, 2);
  });
}

describe('--help', () => {
  test.each([
    ['activate', 'ctl user activate alice'],
    ['unban', 'ctl user unban alice@example.com'],
    ['deactivate', 'ctl user deactivate alice'],
    ['ban', 'ctl user ban spammer@remote.example'],
    ['sign_out', 'ctl user sign_out alice'],
    ['delete_activities', 'ctl user delete_activities alice'],
    ['deactivate_all_from_instance', 'ctl user deactivate_all_from_instance spam.example'],
    ['restore', 'ctl user restore alice'],
    ['purge_deleted', 'ctl user purge_deleted -y'],
  ])('%s --help shows an example', async (verb, example) => {
    const r = await runCtl(null, ['user', verb, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain(example);
  });
});

describe('ctl user deactivate / activate', () => {
  beforeEach(seed);

  test('deactivate: Pleroma\'s message, local follows gone both ways, sessions revoked, audit row with --reason', async () => {
    const r = await ctl(['user', 'deactivate', 'alice', '--reason', 'spam', '--actor', 'mod1']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'Successfully deactivated alice and unsubscribed all local followers\nRemoved 2 follows with local users, 3 sessions.\n' });
    expect((await user('alice'))?.active).toBe(false);
    expect(await follows()).toEqual(['far@remote.example>alice', 'alice>far@remote.example']);
    expect(await liveTokens('alice')).toEqual(['password_reset']);
    expect(await liveTokens('bob')).toEqual(['access']);
    expect(await audit()).toEqual([{ verb: 'deactivate', actor: 'mod1', target_nickname: 'alice', reason: 'spam', details: { active: false, unfollowed: 2, revokedSessions: 3 } }]);
    const again = await ctl(['user', 'ban', 'alice']);
    expect(again).toMatchObject({ code: 0, stdout: 'User alice already deactivated\n' });
    expect(await audit()).toHaveLength(1);
  });

  test('activate: Pleroma\'s messages, audit row; already active is exit 0', async () => {
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
    expect(JSON.parse(d.stdout)).toEqual({ id: 4, nickname: 'far@remote.example', active: false, changed: true, unfollowed: 2, revokedSessions: 0, dryRun: false });
    expect(d.stderr).toBe('Successfully deactivated far@remote.example and unsubscribed all local followers\nRemoved 2 follows with local users, 0 sessions.\n');
    const a = await ctl(['user', 'activate', 'far@remote.example', '--format', 'ndjson']);
    expect(JSON.parse(a.stdout)).toEqual({ id: 4, nickname: 'far@remote.example', active: true, changed: true, dryRun: false });
  });

  test('--dry-run says what would change and writes nothing', async () => {
    const before = await state();
    expect(await ctl(['user', 'deactivate', 'alice', '--dry-run'])).toMatchObject({ code: 0, stdout: 'alice would be deactivated; it would lose 2 follows with local users, 3 sessions (dry run)\n' });
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

describe('ctl user sign_out', () => {
  beforeEach(seed);

  test('revokes every session, access/refresh token and authorization, says how many, audit row', async () => {
    const r = await ctl(['user', 'sign_out', 'alice']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'alice signed out from all apps.\nRevoked 3 tokens (access 1, refresh 1, authorization 1).\n' });
    expect(await liveTokens('alice')).toEqual(['password_reset']);
    expect(await liveTokens('bob')).toEqual(['access']);
    expect(await audit()).toEqual([{ verb: 'sign_out', actor: 'tester', target_nickname: 'alice', reason: null, details: { revoked: { access: 1, refresh: 1, authorization: 1 } } }]);
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

describe('ctl user delete_activities', () => {
  beforeEach(seed);

  test('-y: deletes the user\'s activities in batches, Pleroma\'s message, an audit row per batch', async () => {
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

  test('asks with the count: no TTY and no -y is exit 5; on a TTY "n" declines, "y" deletes', async () => {
    const before = await state();
    expect(await ctl(['user', 'delete_activities', 'alice'])).toMatchObject({
      code: 5,
      stdout: '',
      stderr: 'refusing to delete the activities of alice without confirmation: stdin is not a terminal; pass -y to confirm\n',
    });
    const no = await runCtlOnTty(tdb, ['user', 'delete_activities', 'alice'], 'n\n');
    expect(no.code).toBe(5);
    expect(no.stdout).toContain('Delete 7 activities (posts and interactions) of alice? [y/N] ');
    expect(no.stdout).toContain('Nothing was deleted.');
    expect(await state()).toEqual(before);
    const yes = await runCtlOnTty(tdb, ['user', 'delete_activities', 'alice'], 'y\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('User alice statuses deleted.');
  });

  test('--dry-run and --json', async () => {
    const before = await state();
    expect(await ctl(['user', 'delete_activities', 'alice', '--dry-run'])).toMatchObject({ code: 0, stdout: '7 activities of alice would be deleted (dry run)\n' });
    expect(await state()).toEqual(before);
    const r = await ctl(['user', 'delete-activities', 'alice', '-y', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ id: 2, nickname: 'alice', dryRun: false, deleted: 7, batches: 1 });
  });

  test('Ctrl-C: exit 130 saying how far it got, only whole batches written, and a re-run finishes', async () => {
    await withDb(async (db) => seedActivities(db, (await db.selectFrom('users').select('id').where('nickname', '=', 'alice').executeTakeFirstOrThrow()).id, 50000));
    // One row per batch makes the run last long enough for its first plain progress line (after
    // 5 s); the interrupt is sent when that line appears, so the timing never decides the outcome.
    const child = spawn(process.execPath, [CTL, 'user', 'delete_activities', 'alice', '-y', '--batch-size', '1'], { env: ctlEnv(tdb), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/ rows\/s/.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(stdout).toBe('');
    const done = Number(/interrupted after (\d+) row\(s\) in \1 batch\(es\); every finished batch is saved, re-run to finish the rest\n$/.exec(stderr)?.[1]);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(50007);
    const { left, audited } = await withDb(async (db) => {
      const { rows } = await sql<{ left: number; audited: number }>`
        SELECT (SELECT count(*)::int FROM activities a JOIN users u ON u.id = a.actor_id WHERE u.nickname = 'alice') AS left,
               (SELECT coalesce(sum((details->>'activities')::int), 0)::int FROM audit_log WHERE verb = 'delete_activities') AS audited`.execute(db);
      return rows[0];
    });
    expect(left).toBe(7 + 50000 - done);
    expect(audited).toBe(done);
    const rerun = await ctl(['user', 'delete_activities', 'alice', '-y', '--batch-size', '5000']);
    const batches = Math.floor(left / 5000) + 1;
    expect(rerun).toMatchObject({ code: 0, stdout: `User alice statuses deleted.\nDeleted ${left} activities in ${batches} batch${batches === 1 ? '' : 'es'}.\n` });
  }, 180000);

  test('nothing to delete: no question, exit 0; remote or missing: exit 3', async () => {
    await withDb((db) => db.deleteFrom('activities').execute());
    expect(await ctl(['user', 'delete_activities', 'alice'])).toMatchObject({ code: 0, stdout: 'User alice statuses deleted.\nDeleted 0 activities in 1 batch.\n' });
    expect(await ctl(['user', 'delete_activities', 'far@remote.example', '-y'])).toMatchObject({ code: 3, stderr: 'No local user far@remote.example\n' });
    expect(await ctl(['user', 'delete_activities', 'nobody', '-y'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
  });
});

describe('ctl user deactivate_all_from_instance', () => {
  beforeEach(async () => {
    await withDb(async (db) => {
      const alice = await seedUser(db, { nickname: 'alice' });
      await seedUsers(db, 's', 12, '@spam.example');
      await seedUser(db, { nickname: 'x@spam.example.com' });
      await seedUser(db, { nickname: 'y@sub.spam.example' });
      const s1 = (await db.selectFrom('users').select('id').where('nickname', '=', 's1@spam.example').executeTakeFirstOrThrow()).id;
      await seedFollow(db, alice, s1);
      await seedFollow(db, s1, alice);
    });
  });

  const PLAN = [
    '12 active users from spam.example: s1@spam.example, s2@spam.example, s3@spam.example, s4@spam.example, s5@spam.example, s6@spam.example, s7@spam.example, s8@spam.example, s9@spam.example, s10@spam.example (and 2 more)',
    'Their 2 follows with local users will be removed.',
  ];

  test('-y: only users of exactly that host, in batches, a summary, an audit row each', async () => {
    const r = await ctl(['user', 'deactivate_all_from_instance', 'Spam.Example', '-y', '--batch-size', '5']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: [...PLAN, 'Deactivated 12 users from spam.example, removed 2 follows with local users, revoked 0 sessions.', ''].join('\n') });
    const { rows } = await withDb((db) => sql<{ nickname: string }>`SELECT nickname FROM users WHERE active ORDER BY id`.execute(db));
    expect(rows.map((u) => u.nickname)).toEqual(['alice', 'x@spam.example.com', 'y@sub.spam.example']);
    expect(await follows()).toEqual([]);
    const rowsAudit = await audit();
    expect(rowsAudit).toHaveLength(12);
    expect(rowsAudit[11]).toEqual({ verb: 'deactivate_all_from_instance', actor: 'tester', target_nickname: 's12@spam.example', reason: null, details: { instance: 'spam.example', batch: 3, active: false } });
    const again = await ctl(['user', 'deactivate_all_from_instance', 'spam.example', '-y']);
    expect(again).toMatchObject({ code: 0, stdout: 'No active users from spam.example.\n' });
  });

  test('--dry-run lists and counts, writes nothing; no -y on a pipe: exit 5; TTY "n": exit 5', async () => {
    const before = await state();
    expect(await ctl(['user', 'deactivate_all_from_instance', 'spam.example', '--dry-run'])).toMatchObject({
      code: 0,
      stdout: [...PLAN, '12 users from spam.example would be deactivated (dry run)', ''].join('\n'),
    });
    expect(await ctl(['user', 'deactivate_all_from_instance', 'spam.example'])).toMatchObject({
      code: 5,
      stderr: 'refusing to deactivate the users of spam.example without confirmation: stdin is not a terminal; pass -y to confirm\n',
    });
    const no = await runCtlOnTty(tdb, ['user', 'deactivate_all_from_instance', 'spam.example'], 'n\n');
    expect(no.code).toBe(5);
    expect(no.stdout).toContain('Deactivate 12 users from spam.example? [y/N] ');
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
