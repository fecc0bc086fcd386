import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { seedUserRows } from '../../helpers/seed-users';
import type { NewUserRow } from '../../../lib/db/schema';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const seed = (...users: Partial<NewUserRow>[]) => tdb.withDb(({ db }) => seedUserRows(db, ...users));
const userRow = (nickname: string) => tdb.withDb(({ db }) => db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow());
const auditRows = () => tdb.withDb(({ db }) => db.selectFrom('audit_log').selectAll().orderBy('id').execute());

describe('ctl user confirm', () => {
  beforeEach(() => seed({ nickname: 'alice', confirmed: false }));

  test('confirms, then says Pleroma\'s "doesn\'t need confirmation."', async () => {
    const dry = await ctl(['user', 'confirm', 'alice', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: 'alice would be confirmed (dry run)\n' });
    expect((await userRow('alice')).confirmed).toBe(false);
    const r = await ctl(['user', 'confirm', 'alice', '--reason', 'asked by phone']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'alice confirmed.\n' });
    expect((await userRow('alice')).confirmed).toBe(true);
    const again = await ctl(['user', 'confirm', 'alice']);
    expect(again).toMatchObject({ code: 0, stdout: "alice doesn't need confirmation.\n" });
    const audit = await auditRows();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ verb: 'confirm', reason: 'asked by phone', actor: 'tester', target_nickname: 'alice' });
    const json = await ctl(['user', 'confirm', 'alice', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ userId: 1, nickname: 'alice', changed: false, wasConfirmed: true, revokedConfirmationTokens: 0, dryRun: false });
  });

  test('a missing user is exit 3 "No local user X"', async () => {
    expect(await ctl(['user', 'confirm', 'nobody'])).toMatchObject({ code: 3, stdout: '', stderr: 'No local user nobody\n' });
  });
});
