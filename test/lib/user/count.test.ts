import { useOpenTestDatabase } from '../../helpers/backend';
import { seedUserRows } from '../../helpers/seed-users';
import type { DbHandle } from '../../../lib/db/db';
import type { NewUserRow } from '../../../lib/db/schema';
import { parseSince } from '../../../lib/dates';
import { countUsers } from '../../../lib/user/count';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const NOW = new Date('2026-03-10T12:00:00Z');
const seed = (...users: Partial<NewUserRow>[]) => seedUserRows(h.db, ...users);

describe('countUsers', () => {
  test('local, not deleted users, and those who logged in inside the window', async () => {
    const day = 86400e3;
    await seed(
      { nickname: 'recent', last_login_at: new Date(NOW.getTime() - 10 * day) },
      { nickname: 'edge', last_login_at: new Date(NOW.getTime() - 365 * day) },
      { nickname: 'old', last_login_at: new Date(NOW.getTime() - 400 * day) },
      { nickname: 'never' },
      { nickname: 'banned', active: false, last_login_at: new Date(NOW.getTime() - day) },
      { nickname: 'gone', deleted_at: NOW, last_login_at: NOW },
      { nickname: 'x@remote.example', local: false, last_login_at: NOW },
    );
    const since = parseSince('365d', '--active-since', NOW);
    expect(await countUsers(h.db, since)).toEqual({ total: 5, activeInWindow: 3, activeSince: since, deactivated: 1, deleted: 1 });
    expect((await countUsers(h.db, parseSince('30d', '--active-since', NOW))).activeInWindow).toBe(2);
  });
});
