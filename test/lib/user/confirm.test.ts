import { libContext, useOpenTestDatabase } from '../../helpers/backend';
import { seedUserRows } from '../../helpers/seed-users';
import type { DbHandle } from '../../../lib/db/db';
import type { NewUserRow } from '../../../lib/db/schema';
import { confirmUser } from '../../../lib/user/confirm';
import { listAudit } from '../../../lib/audit/audit';
import { hashToken } from '../../../lib/tokens/secrets';
import { NotFoundError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const NOW = new Date('2026-03-10T12:00:00Z');
const ctx = (over = {}) => libContext(h, { now: () => NOW, actor: 'ops', reason: 'ticket 1', ...over });
const seed = (...users: Partial<NewUserRow>[]) => seedUserRows(h.db, ...users);
const user = (nickname: string) => h.db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow();
const tokens = (kind = 'email_confirmation') =>
  h.db
    .selectFrom('tokens')
    .selectAll()
    .where('kind', '=', kind as 'email_confirmation')
    .orderBy('id')
    .execute();
const audit = () => listAudit(h.db);

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
