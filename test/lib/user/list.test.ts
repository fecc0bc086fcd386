import { useOpenTestDatabase } from '../../helpers/backend';
import { collect } from '../../helpers/collect';
import type { DbHandle } from '../../../lib/db/db';
import { exportUsers, listUsers } from '../../../lib/user/list';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

describe('listUsers', () => {
  beforeEach(async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({
      nickname: `user${String(i).padStart(2, '0')}`,
      email: `user${i}@example.com`,
      name: i === 3 ? 'Jane 100%_Doe' : `User ${i}`,
      admin: i % 10 === 0,
      moderator: i === 5,
      active: i !== 7,
      confirmed: i % 2 === 0,
      tags: i < 3 ? ['vip'] : [],
    }));
    await h.db.insertInto('users').values(rows).execute();
    await h.db.insertInto('users').values({ nickname: 'far@remote.example', name: 'far', local: false }).execute();
    await h.db.updateTable('users').set({ deleted_at: new Date() }).where('nickname', '=', 'user24').execute();
  });

  test('pages by keyset in id order and sees every row exactly once', async () => {
    const pages: number[] = [];
    const all: string[] = [];
    for await (const page of listUsers(h.db, {}, 7)) {
      pages.push(page.length);
      all.push(...page.map((u) => u.nickname));
    }
    expect(pages).toEqual([7, 7, 7, 3]);
    expect(all).toEqual(Array.from({ length: 24 }, (_, i) => `user${String(i).padStart(2, '0')}`));
  });

  test.each([
    [{ admin: true }, ['user00', 'user10', 'user20']],
    [{ moderator: true }, ['user05']],
    [{ active: false }, ['user07']],
    [{ tag: 'VIP' }, ['user00', 'user01', 'user02']],
    [{ local: false }, ['far@remote.example']],
    [{ deleted: true }, ['user24']],
    [{ search: '100%_' }, ['user03']],
    [{ confirmed: false, admin: false, limit: 2 }, ['user01', 'user03']],
  ])('filter %j', async (filter, expected) => {
    expect((await collect(listUsers(h.db, filter, 2))).map((u) => u.nickname)).toEqual(expected);
  });

  /** exportUsers' COPY text, whole. */
  async function exported(filter: Parameters<typeof exportUsers>[1], pageSize?: number): Promise<string> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of exportUsers(h.db, filter, pageSize)) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }

  test('exportUsers: COPY text of the same users in id order, whatever the page size (PGlite pages its COPY by keyset)', async () => {
    const whole = await exported({ local: null });
    const listed: string[] = [];
    for await (const page of listUsers(h.db, { local: null })) listed.push(...page.map((u) => u.nickname));
    expect(
      whole
        .split('\n')
        .slice(0, -1)
        .map((line) => line.split('\t')[1]),
    ).toEqual(listed);
    for (const size of [1, 2, 7]) expect(await exported({ local: null }, size)).toBe(whole);
    expect(await exported({ local: null, limit: 5 }, 2)).toBe(whole.split('\n').slice(0, 5).join('\n') + '\n');
    expect(await exported({ search: '100%_' })).toMatch(/^\d+\tuser03\t/);
  });
});
