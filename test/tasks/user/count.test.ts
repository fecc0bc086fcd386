import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { seedUserRows } from '../../helpers/seed-users';
import type { NewUserRow } from '../../../lib/db/schema';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const seed = (...users: Partial<NewUserRow>[]) => tdb.withDb(({ db }) => seedUserRows(db, ...users));

describe('ctl user count', () => {
  test('total and active-in-window as key/value lines or JSON; a bad window is exit 2 quoting it', async () => {
    const day = 86400e3;
    const now = Date.now();
    await seed(
      { nickname: 'recent', last_login_at: new Date(now - 10 * day) },
      { nickname: 'older', last_login_at: new Date(now - 100 * day) },
      { nickname: 'ancient', last_login_at: new Date(now - 500 * day) },
      { nickname: 'banned', active: false },
      { nickname: 'gone', deleted_at: new Date(now), last_login_at: new Date(now) },
      { nickname: 'x@remote.example', local: false, last_login_at: new Date(now) },
    );
    const r = await ctl(['user', 'count']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^total {11}4\nactiveInWindow {2}2\nactiveSince {5}\d{4}-\d\d-\d\dT[\d:.]+Z\ndeactivated {5}1\ndeleted {9}1\n$/);
    const j = await ctl(['user', 'count', '--active-since', '30d', '--json']);
    const out = JSON.parse(j.stdout);
    expect(out).toMatchObject({ total: 4, activeInWindow: 1, deactivated: 1, deleted: 1 });
    expect(Math.abs(Date.parse(out.activeSince) - (now - 30 * day))).toBeLessThan(60e3);
    const day0 = await ctl(['user', 'count', '--active-since', '2000-01-01', '--format', 'csv']);
    expect(day0.stdout).toBe('total,activeInWindow,activeSince,deactivated,deleted\r\n4,3,2000-01-01T00:00:00.000Z,1,1\r\n');
    const bad = await ctl(['user', 'count', '--active-since', '2019-02-30']);
    expect(bad).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'invalid date "2019-02-30" for --active-since: expected YYYY-MM-DD, an ISO timestamp or a duration like 7d, 12h or 2w\n',
    });
  });
});
