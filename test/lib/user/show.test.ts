import { libContext, TEST_SETTINGS, useOpenTestDatabase } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import { createUser, planNewUser } from '../../../lib/user/new';
import { showUser } from '../../../lib/user/show';
import { NotFoundError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

describe('showUser', () => {
  test('counts what the user owns and their live sessions', async () => {
    const { user } = await createUser(libContext(h), planNewUser({ nickname: 'alice', email: 'alice@example.com', password: 'password1' }), TEST_SETTINGS);
    const other = await h.db.insertInto('users').values({ nickname: 'bob', email: 'bob@example.com', name: 'bob' }).returning('id').executeTakeFirstOrThrow();
    await h.db
      .insertInto('activities')
      .values([
        { actor_id: user.id, type: 'Create' },
        { actor_id: user.id, type: 'Like' },
      ])
      .execute();
    await h.db.insertInto('follows').values({ follower_id: other.id, following_id: user.id }).execute();
    const now = new Date();
    await h.db
      .insertInto('tokens')
      .values([
        { kind: 'access', token_hash: 'a', user_id: user.id },
        { kind: 'access', token_hash: 'b', user_id: user.id, revoked_at: now },
        { kind: 'refresh', token_hash: 'c', user_id: user.id, expires_at: new Date(now.getTime() - 1000) },
        { kind: 'refresh', token_hash: 'd', user_id: user.id, used_at: now },
        { kind: 'refresh', token_hash: 'e', user_id: user.id },
      ])
      .execute();
    const details = await showUser(h.db, 'alice', now);
    expect(details.counts).toEqual({ activities: 2, followers: 1, following: 0, activeSessions: 2, refreshTokens: 1, tags: 0 });
    await expect(showUser(h.db, 'nobody', now)).rejects.toThrow(new NotFoundError('No user nobody'));
  });
});
