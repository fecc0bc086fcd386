import { sql } from 'kysely';
import { useOpenTestDatabase } from '../../helpers/backend';
import { collect } from '../../helpers/collect';
import type { DbHandle } from '../../../lib/db/db';
import { listUsers } from '../../../lib/user/list';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

/** The search of `list --search` and the console: what serves it, and where it starts (`after`). */
describe('the user search', () => {
  test("the trigram indexes serve the search's substring match on this backend (pg_trgm loaded)", async () => {
    const plan = await h.db.transaction().execute(async (trx) => {
      // A few rows would be read whole anyway: forbid that, to see which index the planner can use.
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      const { rows } = await sql<{ 'QUERY PLAN': string }>`
        EXPLAIN SELECT id FROM users WHERE nickname ILIKE '%lice%' OR email ILIKE '%lice%' OR name ILIKE '%lice%'`.execute(trx);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    for (const column of ['nickname', 'email', 'name']) expect(plan).toContain(`users_${column}_trgm_idx`);
    expect(plan).toContain('BitmapOr');
  });

  test('after: the next keyset page starts past the given id', async () => {
    await h.db
      .insertInto('users')
      .values(['alice', 'malice', 'bob', 'alicia'].map((nickname) => ({ nickname, email: `${nickname}@example.com`, name: nickname })))
      .execute();
    const all = (await collect(listUsers(h.db, { search: 'ALI' }))).map((u) => u.id);
    expect(all).toEqual([1, 2, 4]);
    const rest = (await collect(listUsers(h.db, { search: 'ALI', after: 1 }))).map((u) => u.nickname);
    expect(rest).toEqual(['malice', 'alicia']);
  });
});
