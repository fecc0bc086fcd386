import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { seedUserRows } from '../../helpers/seed-users';
import type { NewUserRow } from '../../../lib/db/schema';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const seed = (...users: Partial<NewUserRow>[]) => tdb.withDb(({ db }) => seedUserRows(db, ...users));
const userRow = (nickname: string) => tdb.withDb(({ db }) => db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow());
const auditRows = () => tdb.withDb(({ db }) => db.selectFrom('audit_log').selectAll().orderBy('id').execute());

describe('ctl user reset_mfa', () => {
  beforeEach(() =>
    seed(
      { nickname: 'alice', mfa_enabled: true, mfa_totp_secret: 'JBSWY3DPEHPK3PXP', mfa_backup_codes: ['$2a$04$a', '$2a$04$b', '$2a$04$c'] },
      { nickname: 'erin@remote.example', local: false },
    ),
  );

  test('disables MFA, says what was removed, and writes an audit row without the secret', async () => {
    const dry = await ctl(['user', 'reset_mfa', 'alice', '--dry-run']);
    expect(dry).toMatchObject({
      code: 0,
      stdout: 'Multi-Factor Authentication would be disabled for alice (dry run)\nWould remove: TOTP secret, 3 backup codes (dry run)\n',
    });
    expect((await userRow('alice')).mfa_enabled).toBe(true);
    const r = await ctl(['user', 'reset-mfa', 'alice']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'Multi-Factor Authentication disabled for alice\nRemoved: TOTP secret, 3 backup codes\n' });
    expect(await userRow('alice')).toMatchObject({ mfa_enabled: false, mfa_totp_secret: null, mfa_backup_codes: [] });
    const audit = await auditRows();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      verb: 'reset_mfa',
      target_nickname: 'alice',
      details: { removed: { mfaEnabled: true, totpSecret: true, backupCodes: 3 } },
    });
    expect(JSON.stringify(audit)).not.toContain('JBSWY3DPEHPK3PXP');
    const again = await ctl(['user', 'reset_mfa', 'alice', '--json']);
    expect(JSON.parse(again.stdout)).toEqual({
      userId: 1,
      nickname: 'alice',
      removed: { mfaEnabled: false, totpSecret: false, backupCodes: 0 },
      changed: false,
      dryRun: false,
    });
    expect(again.stderr).toBe('Multi-Factor Authentication disabled for alice\nRemoved: nothing (MFA was not set up)\n');
    expect(await auditRows()).toHaveLength(1);
  });

  test('remote or missing users are exit 3 "No local user X"', async () => {
    expect(await ctl(['user', 'reset_mfa', 'erin@remote.example'])).toMatchObject({ code: 3, stdout: '', stderr: 'No local user erin@remote.example\n' });
    expect(await ctl(['user', 'reset_mfa', 'nobody'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
  });
});
