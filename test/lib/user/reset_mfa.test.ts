import { resetMfa } from '../../../lib/user/reset_mfa';
import { NotFoundError } from '../../../lib/errors';
import { NOW, useUserFixture } from '../../helpers/user-fixture';

const { ctx, seed, user, audit } = useUserFixture();

describe('resetMfa', () => {
  test('removes the secret, the backup codes and the replay guard, and says what was there', async () => {
    await seed({ nickname: 'alice', mfa_enabled: true, mfa_totp_secret: 'JBSWY3DPEHPK3PXP', mfa_backup_codes: ['$2a$04$x', '$2a$04$y'], mfa_last_step: 123 });
    const r = await resetMfa(ctx(), 'alice');
    expect(r).toMatchObject({ nickname: 'alice', changed: true, removed: { mfaEnabled: true, totpSecret: true, backupCodes: 2 } });
    expect(await user('alice')).toMatchObject({ mfa_enabled: false, mfa_totp_secret: null, mfa_backup_codes: [], mfa_last_step: null, updated_at: NOW });
    const [entry] = await audit();
    expect(entry).toMatchObject({ verb: 'reset_mfa', targetNickname: 'alice', details: { removed: { mfaEnabled: true, totpSecret: true, backupCodes: 2 } } });
    expect(JSON.stringify(entry)).not.toContain('JBSWY3DPEHPK3PXP');
    expect(await resetMfa(ctx(), 'alice')).toMatchObject({ changed: false, removed: { mfaEnabled: false, totpSecret: false, backupCodes: 0 } });
    expect(await audit()).toHaveLength(1);
  });

  test('local users only; dry run writes nothing', async () => {
    await seed({ nickname: 'bob@remote.example', local: false, mfa_enabled: true }, { nickname: 'alice', mfa_enabled: true, mfa_totp_secret: 'S' });
    await expect(resetMfa(ctx(), 'bob@remote.example')).rejects.toThrow(new NotFoundError('No local user bob@remote.example'));
    expect(await resetMfa(ctx(), 'alice', { dryRun: true })).toMatchObject({ changed: true, dryRun: true });
    expect((await user('alice')).mfa_totp_secret).toBe('S');
    expect(await audit()).toEqual([]);
  });
});
