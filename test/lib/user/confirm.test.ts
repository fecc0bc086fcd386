import type { DbHandle } from '../../../lib/db/db';
import { confirmUser } from '../../../lib/user/confirm';
import { hashToken } from '../../../lib/tokens/secrets';
import { NotFoundError } from '../../../lib/errors';
import { NOW, useUserFixture } from '../../helpers/user-fixture';

let h: DbHandle;
const { ctx, seed, user, tokens, audit } = useUserFixture((handle) => (h = handle));

describe('confirmUser', () => {
  test('confirms once, then reports there is nothing to do', async () => {
    const [id] = await seed({ nickname: 'alice', confirmed: false });
    await h.db
      .insertInto('tokens')
      .values({ kind: 'email_confirmation', token_hash: hashToken('t'), user_id: id, expires_at: null })
      .execute();
    expect(await confirmUser(ctx(), 'alice')).toMatchObject({ changed: true, wasConfirmed: false, revokedConfirmationTokens: 1 });
    expect((await user('alice')).confirmed).toBe(true);
    expect((await tokens())[0].revoked_at).toEqual(NOW);
    expect(await confirmUser(ctx(), 'alice')).toMatchObject({ changed: false, wasConfirmed: true, revokedConfirmationTokens: 0 });
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ verb: 'confirm', targetUserId: id, details: { confirmed: { from: false, to: true }, confirmationTokensRevoked: 1 } });
  });

  test('any user, remote too; missing is "No local user X"', async () => {
    await seed({ nickname: 'bob@remote.example', local: false, confirmed: false });
    expect((await confirmUser(ctx(), 'bob@remote.example')).changed).toBe(true);
    await expect(confirmUser(ctx(), 'nobody')).rejects.toThrow(new NotFoundError('No local user nobody'));
  });

  test('dry run writes nothing', async () => {
    await seed({ nickname: 'alice', confirmed: false });
    expect(await confirmUser(ctx(), 'alice', { dryRun: true })).toMatchObject({ changed: true, dryRun: true });
    expect((await user('alice')).confirmed).toBe(false);
    expect(await audit()).toEqual([]);
  });
});
