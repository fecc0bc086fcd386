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
const tokenRows = () => tdb.withDb(({ db }) => db.selectFrom('tokens').selectAll().orderBy('id').execute());
const LEFT_ALONE = LEFT_ALONE_BY_BULK_CONFIRM;

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
    expect(r).toMatchObject({
      code: 5,
      stderr: 'refusing to unconfirm every regular user without confirmation: stdin is not a terminal; pass -y to confirm\n',
    });
    expect(await withConfirmation(false)).toEqual([]);
    expect(await tokenRows()).toEqual([]);
  });
});
