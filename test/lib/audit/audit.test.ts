import { useOpenTestDatabase } from '../../helpers/backend';
import { collect } from '../../helpers/collect';
import type { DbHandle } from '../../../lib/db/db';
import { auditPages, type AuditRecord } from '../../../lib/audit/audit';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const NOW = new Date('2026-03-10T12:00:00Z');

describe('auditPages', () => {
  async function entries(n: number, verb: (i: number) => string, nickname: (i: number) => string | null, userId: (i: number) => number | null) {
    for (let i = 0; i < n; i++) {
      await h.db
        .insertInto('audit_log')
        .values({ at: new Date(NOW.getTime() + i * 60e3), actor: 'ops', verb: verb(i), target_user_id: userId(i), target_nickname: nickname(i), details: '{}' })
        .execute();
    }
  }
  const ids = (rows: AuditRecord[]) => rows.map((r) => r.id);

  test('filters by user (id or nickname, case-insensitively), verb and since; pages in id order', async () => {
    await entries(
      9,
      (i) => (i % 3 === 0 ? 'set' : 'tag'),
      (i) => (i % 2 === 0 ? 'Alice' : 'bob'),
      (i) => (i % 2 === 0 ? 1 : 2),
    );
    expect(ids(await collect(auditPages(h.db, {}, 2)))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ids(await collect(auditPages(h.db, { nickname: 'alice' }, 2)))).toEqual([1, 3, 5, 7, 9]);
    expect(ids(await collect(auditPages(h.db, { userId: 2 })))).toEqual([2, 4, 6, 8]);
    expect(ids(await collect(auditPages(h.db, { verb: 'set' })))).toEqual([1, 4, 7]);
    expect(ids(await collect(auditPages(h.db, { since: new Date(NOW.getTime() + 6 * 60e3) })))).toEqual([7, 8, 9]);
    expect(ids(await collect(auditPages(h.db, { nickname: 'alice', verb: 'tag', since: NOW })))).toEqual([3, 5, 9]);
  });

  test('--limit keeps the newest N, still oldest first', async () => {
    await entries(
      7,
      () => 'set',
      () => 'alice',
      () => 1,
    );
    expect(ids(await collect(auditPages(h.db, { limit: 3 }, 2)))).toEqual([5, 6, 7]);
    expect(ids(await collect(auditPages(h.db, { limit: 30 }, 2)))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(ids(await collect(auditPages(h.db, { limit: 2, verb: 'nope' })))).toEqual([]);
  });
});
