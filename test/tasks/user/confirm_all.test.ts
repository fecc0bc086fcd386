import { Client } from 'pg';
import { BACKEND } from '../../helpers/backend';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { LEFT_ALONE_BY_BULK_CONFIRM, nicknamesConfirmed, seedBulkConfirmUsers } from '../../helpers/cli-scenarios';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

/** 5 regular users plus one of each kind the bulk verbs must leave alone. */
const seed = (confirmed: boolean) => tdb.withDb(({ db }) => seedBulkConfirmUsers(db, confirmed));
/** Nicknames whose confirmation is `confirmed`, sorted. */
const withConfirmation = (confirmed: boolean) => tdb.withDb(({ db }) => nicknamesConfirmed(db, confirmed));
const auditRows = () => tdb.withDb(({ db }) => db.selectFrom('audit_log').selectAll().orderBy('id').execute());
const LEFT_ALONE = LEFT_ALONE_BY_BULK_CONFIRM;

describe('ctl user confirm_all', () => {
  beforeEach(() => seed(false));

  test('no TTY and no -y: the count, then exit 5, nothing changed', async () => {
    const r = await ctl(['user', 'confirm_all']);
    expect(r).toMatchObject({
      code: 5,
      stdout: '5 users (local, active, neither admin nor moderator) are unconfirmed.\n',
      stderr: 'refusing to confirm every regular user without confirmation: stdin is not a terminal; pass -y to confirm\n',
    });
    expect(await withConfirmation(true)).toEqual([]);
  });

  test('-y: only regular users (not deactivated ones, unlike Pleroma), batches as asked, one audit row per user', async () => {
    const r = await ctl(['user', 'confirm_all', '-y', '--batch-size', '2', '--reason', 'migration']);
    expect(r).toMatchObject({
      code: 0,
      stderr: '',
      stdout: '5 users (local, active, neither admin nor moderator) are unconfirmed.\nConfirmed 5 users in 3 batches.\n',
    });
    expect(await withConfirmation(false)).toEqual(LEFT_ALONE);
    const audit = await auditRows();
    expect(audit.map((a) => a.target_nickname).sort()).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    expect(audit.every((a) => a.verb === 'confirm_all' && a.reason === 'migration' && a.actor === 'tester')).toBe(true);
    const again = await ctl(['user', 'confirm-all', '-y']);
    expect(again).toMatchObject({ code: 0, stdout: 'No user needs confirmation.\n' });
  });

  test('--dry-run counts, says (dry run), and writes nothing; --json prints the result object', async () => {
    const dry = await ctl(['user', 'confirm_all', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stderr: '', stdout: '5 users would be confirmed (dry run)\n' });
    expect(await withConfirmation(true)).toEqual([]);
    expect(await auditRows()).toEqual([]);
    const j = await ctl(['user', 'confirm_all', '-y', '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual({ verb: 'confirm_all', matched: 5, changed: 5, tokensIssued: 0, tokensRevoked: 0, batches: 1, dryRun: false });
    expect(j.stderr).toBe('5 users (local, active, neither admin nor moderator) are unconfirmed.\nConfirmed 5 users in 1 batch.\n');
  });

  test.each([['0'], ['-3'], ['1.5'], ['many'], [''], ['1e3'], ['2000000']])('--batch-size %j is exit 2, quoting the value as typed', async (size) => {
    const r = await ctl(['user', 'confirm_all', '-y', `--batch-size=${size}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`--batch-size must be a whole number from 1 to 1000000, got ${JSON.stringify(size)}\n`);
    expect(await withConfirmation(true)).toEqual([]);
  });

  // The embedded database admits one process at a time: that refusal needs a second process (test/bin/process-lock.test.ts).
  if (BACKEND === 'postgres')
    test('a second run while one holds the job is refused', async () => {
      // On a server the job's advisory lock is the guard: exit 4.
      const holder = new Client({ connectionString: tdb.url! });
      await holder.connect();
      try {
        await holder.query(`SELECT pg_advisory_lock(hashtext('userctl:confirm_all'))`);
        const r = await ctl(['user', 'confirm_all', '-y']);
        expect(r).toMatchObject({ code: 4, stdout: '', stderr: 'another confirm_all is already running\n' });
        // Another job is not blocked by it.
        expect((await ctl(['user', 'unconfirm_all', '--dry-run'])).code).toBe(0);
      } finally {
        await holder.end();
      }
      expect(await withConfirmation(true)).toEqual([]);
    });
});
