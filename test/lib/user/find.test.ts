import { libContext, TEST_SETTINGS, useOpenTestDatabase } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import { createUser, planNewUser } from '../../../lib/user/new';
import { findUser, requireLocalUser } from '../../../lib/user/find';
import { NotFoundError } from '../../../lib/errors';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

describe('findUser', () => {
  beforeEach(async () => {
    await createUser(libContext(h), planNewUser({ nickname: 'alice', email: 'bob@example.com' }), TEST_SETTINGS);
    await createUser(libContext(h), planNewUser({ nickname: 'bob', email: 'robert@example.com' }), TEST_SETTINGS);
    await h.db.insertInto('users').values({ nickname: 'carol@remote.example', email: null, name: 'carol', local: false }).execute();
  });

  test('resolves a nickname or an email, case-insensitively', async () => {
    expect((await findUser(h.db, 'ALICE'))?.nickname).toBe('alice');
    expect((await findUser(h.db, 'Robert@Example.com'))?.nickname).toBe('bob');
  });

  test('a nickname match wins over an email match', async () => {
    expect((await findUser(h.db, 'bob'))?.nickname).toBe('bob');
  });

  test('local-only lookups say "No local user X" for remote accounts', async () => {
    expect((await findUser(h.db, 'carol@remote.example'))?.local).toBe(false);
    await expect(requireLocalUser(h.db, 'carol@remote.example')).rejects.toThrow(new NotFoundError('No local user carol@remote.example'));
  });

  test('soft-deleted accounts are hidden unless asked for', async () => {
    await h.db.updateTable('users').set({ deleted_at: new Date() }).where('nickname', '=', 'alice').execute();
    expect(await findUser(h.db, 'alice')).toBeUndefined();
    expect((await findUser(h.db, 'alice', { includeDeleted: true }))?.nickname).toBe('alice');
  });

  test('an account picked by id is that account only: never another by nickname or email', async () => {
    const dan = await createUser(libContext(h), planNewUser({ nickname: 'dan', email: 'carol@remote.example' }), TEST_SETTINGS);
    const carol = (await findUser(h.db, 'carol@remote.example'))!;
    expect(carol.local).toBe(false);
    // The remote account's nickname is dan's address. Typed as an operator's <user>, it names the
    // remote account, which a local-only verb then does not find: it never falls back to dan. Typed
    // by someone signing in or asking for a link (nicknameWins: false), it is dan's address.
    expect(await findUser(h.db, 'carol@remote.example', { localOnly: true })).toBeUndefined();
    await expect(requireLocalUser(h.db, 'carol@remote.example')).rejects.toThrow(new NotFoundError('No local user carol@remote.example'));
    expect((await findUser(h.db, 'carol@remote.example', { localOnly: true, nicknameWins: false }))?.id).toBe(dan.user.id);
    await expect(requireLocalUser(h.db, { id: carol.id, nickname: carol.nickname })).rejects.toThrow(new NotFoundError('No local user carol@remote.example'));
    await h.db.updateTable('users').set({ deleted_at: new Date() }).where('id', '=', carol.id).execute();
    expect(await findUser(h.db, { id: carol.id, nickname: carol.nickname })).toBeUndefined();
    expect((await findUser(h.db, { id: carol.id, nickname: carol.nickname }, { includeDeleted: true }))?.id).toBe(carol.id);
    // Deleted, the remote account's nickname still names it: no verb on live accounts finds dan by it.
    expect(await findUser(h.db, 'carol@remote.example')).toBeUndefined();
    expect((await findUser(h.db, 'carol@remote.example', { includeDeleted: true }))?.id).toBe(carol.id);
  });
});
