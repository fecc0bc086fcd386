import { useOpenTestDatabase, libContext, TEST_SETTINGS } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import { ConflictError, UsageError } from '../../../lib/errors';
import { adminExists, createFirstAdmin } from '../../../lib/user/launchpad';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const first = { nickname: 'root', email: 'root@example.com', password: 'roots-password' };

describe('createFirstAdmin', () => {
  test('creates a confirmed admin with its password and the audit row of `new`', async () => {
    const created = await createFirstAdmin(libContext(h, { actor: 'web:launchpad' }), first, TEST_SETTINGS);
    expect(created.user).toMatchObject({ nickname: 'root', admin: true, confirmed: true });
    expect(created.passwordReset).toBeNull();
    const audit = await h.db.selectFrom('audit_log').select(['actor', 'verb', 'details']).execute();
    expect(audit).toEqual([{ actor: 'web:launchpad', verb: 'new', details: expect.objectContaining({ admin: true, passwordSet: true, launchpad: true }) }]);
    expect(await adminExists(h.db)).toBe(true);
  });

  test('closed once any account holds admin, even a deactivated or deleted one', async () => {
    await h.db
      .insertInto('users')
      .values({ nickname: 'old', email: 'old@example.com', name: 'old', admin: true, active: false, deleted_at: new Date() })
      .execute();
    await expect(createFirstAdmin(libContext(h), first, TEST_SETTINGS)).rejects.toThrow(
      new ConflictError('an administrator already exists: the launchpad is closed (sign in at /admin, or ask an administrator)'),
    );
  });

  test('the rules of `ctl user new`: a taken nickname, a weak password', async () => {
    await h.db.insertInto('users').values({ nickname: 'root', email: 'other@example.com', name: 'root' }).execute();
    await expect(createFirstAdmin(libContext(h), first, TEST_SETTINGS)).rejects.toThrow(new ConflictError('nickname root is already taken'));
    await expect(createFirstAdmin(libContext(h), { ...first, nickname: 'boss', password: 'short' }, TEST_SETTINGS)).rejects.toThrow(UsageError);
    expect(await adminExists(h.db)).toBe(false);
  });
});
