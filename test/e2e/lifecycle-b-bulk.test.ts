import { sql } from 'kysely';
import { Client } from 'pg';
import { BACKEND, createTestDatabase, type TestDatabase } from '../helpers/backend';
import { runCtl, runCtlOnTty } from '../helpers/cli';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb?.destroy());

const ctl = (args: string[], opts = {}) => runCtl(tdb, args, opts);

/** 5 regular users plus one of each kind the bulk verbs must leave alone. */
async function seed(confirmed: boolean): Promise<void> {
  await tdb.reset();
  await tdb.withDb(async ({ db }) => {
    await sql`INSERT INTO users (nickname, name, confirmed) SELECT 'u' || g, 'u', ${confirmed} FROM generate_series(1, 5) g`.execute(db);
    await db.insertInto('users').values([
      { nickname: 'admin1', name: 'a', email: null, admin: true, confirmed },
      { nickname: 'mod1', name: 'm', email: null, moderator: true, confirmed },
      { nickname: 'banned', name: 'b', email: null, active: false, confirmed },
      { nickname: 'gone', name: 'g', email: null, deleted_at: new Date(), confirmed },
      { nickname: 'far@remote.example', name: 'f', email: null, local: false, confirmed },
    ]).execute();
  });
}

/** Nicknames whose confirmation is `confirmed`, sorted. */
const withConfirmation = (confirmed: boolean) =>
  tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('nickname').where('confirmed', '=', confirmed).orderBy('nickname').execute()).map((r) => r.nickname));
const auditRows = () => tdb.withDb(({ db }) => db.selectFrom('audit_log').selectAll().orderBy('id').execute());
const tokenRows = () => tdb.withDb(({ db }) => db.selectFrom('tokens').selectAll().orderBy('id').execute());
const LEFT_ALONE = ['admin1', 'banned', 'far@remote.example', 'gone', 'mod1'];

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

  test('on a TTY, "n" declines (exit 5) and "y" confirms', async () => {
    const no = await runCtlOnTty(tdb, ['user', 'confirm_all'], 'n\n');
    expect(no.stdout).toContain('Confirm them all? [y/N] ');
    expect(no.stdout).toContain('No user was confirmed.');
    expect(no.code).toBe(5);
    expect(await withConfirmation(true)).toEqual([]);
    const yes = await runCtlOnTty(tdb, ['user', 'confirm_all'], 'y\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('Confirmed 5 users in 1 batch.');
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

  test.each([['0'], ['-3'], ['1.5'], ['many']])('--batch-size %s is exit 2', async (size) => {
    const r = await ctl(['user', 'confirm_all', '-y', '--batch-size', size]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^--batch-size must be a whole number from 1 to 1000000, got /);
    expect(await withConfirmation(true)).toEqual([]);
  });

  test('a second run while one holds the job is refused', async () => {
    if (BACKEND === 'postgres') {
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
    } else {
      // The embedded database admits one process at a time: the second waits, then exit 6.
      const held = await tdb.open();
      try {
        const r = await ctl(['user', 'confirm_all', '-y'], { env: { CTL_LOCK_WAIT_MS: '200' } });
        expect(r.code).toBe(6);
        expect(r.stderr).toMatch(/is busy: another ctl process \(pid \d+\) is using it; try again when it has finished\n$/);
      } finally {
        await held.close();
      }
    }
    expect(await withConfirmation(true)).toEqual([]);
  });
});

describe('ctl user unconfirm_all', () => {
  beforeEach(() => seed(true));

  test('unconfirms regular users and issues one confirmation token each, stored as a hash and never shown', async () => {
    const r = await ctl(['user', 'unconfirm_all', '-y']);
    expect(r).toMatchObject({
      code: 0,
      stderr: '',
      stdout:
        '5 users (local, active, neither admin nor moderator) are confirmed.\n' +
        'Unconfirmed 5 users in 1 batch; issued 5 email confirmation tokens.\n' +
        'The tokens are not shown: ctl user send_confirmation <user> mails a fresh link.\n',
    });
    expect(await withConfirmation(true)).toEqual(LEFT_ALONE);
    const tokens = await tokenRows();
    expect(tokens).toHaveLength(5);
    expect(tokens.every((t) => t.kind === 'email_confirmation' && /^[0-9a-f]{64}$/.test(t.token_hash) && t.revoked_at === null)).toBe(true);
    // CTL_CONFIRMATION_TTL's default: 7 days.
    const ttl = tokens[0].expires_at!.getTime() - tokens[0].created_at.getTime();
    expect(ttl).toBe(7 * 86400e3);
    const audit = await auditRows();
    expect(audit).toHaveLength(5);
    expect(audit[0].details).toEqual({ confirmed: { from: true, to: false }, confirmationTokenIssued: true });
  });

  test('--dry-run and --json', async () => {
    const dry = await ctl(['user', 'unconfirm-all', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: '5 users would be unconfirmed and get an email confirmation token (dry run)\n' });
    expect(await tokenRows()).toEqual([]);
    expect(await withConfirmation(false)).toEqual([]);
    const j = await ctl(['user', 'unconfirm_all', '-y', '--format', 'json', '--batch-size', '4']);
    expect(JSON.parse(j.stdout)).toEqual({ verb: 'unconfirm_all', matched: 5, changed: 5, tokensIssued: 5, tokensRevoked: 0, batches: 2, dryRun: false });
    const none = await ctl(['user', 'unconfirm_all', '-y']);
    expect(none).toMatchObject({ code: 0, stdout: 'No user to unconfirm.\n' });
  });

  test('no TTY and no -y is exit 5 with nothing changed', async () => {
    const r = await ctl(['user', 'unconfirm_all']);
    expect(r).toMatchObject({ code: 5, stderr: 'refusing to unconfirm every regular user without confirmation: stdin is not a terminal; pass -y to confirm\n' });
    expect(await withConfirmation(false)).toEqual([]);
    expect(await tokenRows()).toEqual([]);
  });
});
