import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { auditTrail, tableSnapshot, userRow } from '../../helpers/table-state';
import { ownedRowCounts, seedAccountsToDelete } from '../../helpers/cli-scenarios';
import type { DbHandle } from '../../../lib/db/db';
import { closedPort, type TestSmtp, useTestSmtp } from '../../helpers/smtp';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const DAY = 86400e3;
const withDb = <T>(fn: (db: DbHandle['db']) => Promise<T>) => tdb.withDb((h) => fn(h.db));
const state = () => withDb(tableSnapshot);
const user = (nickname: string) => withDb((db) => userRow(db, nickname));
const audit = () => withDb(auditTrail);
const counts = () => withDb(ownedRowCounts);
const day = (d: Date) => d.toISOString().slice(0, 10);
/** admin (the only admin), alice (5 activities, follows with bob both ways, 3 tokens), bob, a remote user. */
const seed = () => withDb(seedAccountsToDelete);

let smtp: TestSmtp;
useTestSmtp((s) => (smtp = s));

const MAIL_ENV = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'Example Social <no-reply@social.example>' });
/** ctl with mail configured, through the file's SMTP server. */
const mailCtl = (args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}) =>
  ctl(args, { ...opts, env: { ...MAIL_ENV(), ...opts.env } });

describe('ctl user rm (soft delete)', () => {
  beforeEach(seed);

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
    expect(await audit()).toEqual([
      { verb: 'rm', actor: 'ops', target_nickname: 'alice', reason: 'asked to leave', details: { soft: true, wasActive: true, revokedTokens: 2 } },
    ]);
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
    expect(out).toEqual({
      id: 2,
      nickname: 'alice',
      changed: true,
      deletedAt: expect.any(String),
      restorableUntil: expect.any(String),
      revokedTokens: 2,
      dryRun: false,
    });
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
  ])("%s: exit 3 with Pleroma's message", async (ref, message) => {
    const before = await state();
    for (const args of [
      ['user', 'rm', ref],
      ['user', 'rm', ref, '--purge', '-y'],
      ['user', 'rm', ref, '--dry-run'],
    ]) {
      expect(await ctl(args)).toMatchObject({ code: 3, stdout: '', stderr: message });
    }
    expect(await state()).toEqual(before);
  });

  test("a remote account's nickname that is a local account's email names the remote account: no verb falls back to the local one", async () => {
    expect((await ctl(['user', 'new', 'dan', 'far@remote.example', '-y'])).code).toBe(0);
    const before = await state();
    for (const args of [
      ['user', 'rm', 'far@remote.example', '-y'],
      ['user', 'rm', 'far@remote.example', '--purge', '-y'],
      ['user', 'set', 'far@remote.example', '--admin'],
      ['user', 'sign_out', 'far@remote.example'],
      ['user', 'reset_password', 'far@remote.example'],
      ['user', 'delete_activities', 'far@remote.example', '-y'],
    ]) {
      expect([args.join(' '), await ctl(args)]).toMatchObject([args.join(' '), { code: 3, stdout: '', stderr: 'No local user far@remote.example\n' }]);
    }
    expect(await state()).toEqual(before);
    expect(JSON.parse((await ctl(['user', 'show', 'far@remote.example', '--json'])).stdout)).toMatchObject({ nickname: 'far@remote.example', local: false });
    expect((await ctl(['user', 'rm', 'dan', '-y'])).stdout).toContain('User dan deleted.');
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
    expect(r).toMatchObject({
      code: 5,
      stdout: [...PLAN, ''].join('\n'),
      stderr: 'refusing to delete alice permanently without confirmation: stdin is not a terminal; pass -y to confirm\n',
    });
    expect(await state()).toEqual(before);
  });

  test('--dry-run shows the plan and writes nothing; --json gives the counts', async () => {
    const before = await state();
    const r = await ctl(['user', 'rm', 'alice', '--purge', '--dry-run']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: [...PLAN, 'User alice would be deleted with everything it owns (dry run)', ''].join('\n') });
    const j = await ctl(['user', 'rm', 'alice', '--purge', '--dry-run', '--json']);
    expect(JSON.parse(j.stdout)).toEqual({
      id: 2,
      nickname: 'alice',
      purge: true,
      dryRun: true,
      wouldDelete: { users: 1, activities: 5, follows: 2, tokens: 3 },
    });
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
    expect(r.stdout).toMatch(/ {2}- status: deleted on \d{4}-\d\d-\d\d\n/);
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

describe('rm: the account-deleted notice', () => {
  beforeEach(async () => {
    await mailCtl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'a-good-password', '--name', 'Alice A.']);
    await mailCtl(['user', 'new', 'bob', 'bob@example.com', '-y', '--password', 'a-good-password']);
  });

  test('a soft delete mails the notice with the restore deadline; a purge says it cannot be restored', async () => {
    const r = await mailCtl(['user', 'rm', 'alice']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^User alice deleted\.\nRestorable until (\d{4}-\d\d-\d\d) with: ctl user restore alice\nAccount-deleted notice mailed to alice@example\.com\n$/,
    );
    const [soft] = await smtp.waitFor(1);
    expect(soft).toMatchObject({ envelopeTo: ['alice@example.com'], subject: 'Your account on ctl.test was deleted' });
    expect(soft.text).toMatch(/^Hello Alice A\.,\n/);
    expect(soft.text).toContain(`before ${r.stdout.split('\n')[1].slice(17, 27)}`);
    expect(soft.text).toContain('until then the account can be restored');

    const p = await mailCtl(['user', 'rm', 'bob', '--purge', '-y']);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/User bob deleted\.\nDeleted:\n[\s\S]*Account-deleted notice mailed to bob@example\.com\n$/);
    const [, purged] = await smtp.waitFor(2);
    expect(purged.envelopeTo).toEqual(['bob@example.com']);
    expect(purged.text).toContain('cannot be restored');
  });

  test('--skip-email, --dry-run and an already deleted account mail nothing', async () => {
    expect((await mailCtl(['user', 'rm', 'alice', '--dry-run'])).code).toBe(0);
    expect((await mailCtl(['user', 'rm', 'alice', '--skip-email'])).stdout).not.toContain('mailed');
    expect((await mailCtl(['user', 'rm', 'alice'])).stdout).toBe('User alice already deleted.\n');
    expect((await mailCtl(['user', 'rm', 'bob', '--purge', '-y', '--skip-email'])).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.messages).toHaveLength(0);
  });

  test('a failed notice is exit 7 after the deletion was saved', async () => {
    const port = await closedPort();
    const r = await mailCtl(['user', 'rm', 'alice'], { env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(/^User alice deleted\.\n/);
    expect(r.stderr).toMatch(
      /^User alice was deleted, but the account-deleted notice could not be mailed to alice@example\.com \(.*ECONNREFUSED.*\); the user was not notified\n$/,
    );
    expect(JSON.parse((await mailCtl(['user', 'list', '--deleted', '--json'])).stdout).map((u: { nickname: string }) => u.nickname)).toEqual(['alice']);
  });
});
