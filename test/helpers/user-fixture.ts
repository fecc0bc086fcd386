import { listAudit } from '../../lib/audit/audit';
import type { DbHandle } from '../../lib/db/db';
import type { NewUserRow, TokenKind } from '../../lib/db/schema';
import { libContext, useOpenTestDatabase } from './backend';
import { seedUserRows } from './seed-users';

/** The clock of the single-user verbs' library tests. */
export const NOW = new Date('2026-03-10T12:00:00Z');

/**
 * What the library tests of the single-user verbs (set, confirm, confirm_all, tag, reset_mfa) start
 * from: the file's open database (handed to `use`), a context acting as `ops` for `ticket 1` at
 * NOW, and readers of the rows a verb writes.
 */
export function useUserFixture(use: (handle: DbHandle) => void = () => undefined) {
  let h: DbHandle;
  useOpenTestDatabase((_tdb, handle) => {
    h = handle;
    use(handle);
  });
  return {
    ctx: (over = {}) => libContext(h, { now: () => NOW, actor: 'ops', reason: 'ticket 1', ...over }),
    seed: (...users: Partial<NewUserRow>[]) => seedUserRows(h.db, ...users),
    user: (nickname: string) => h.db.selectFrom('users').selectAll().where('nickname', '=', nickname).executeTakeFirstOrThrow(),
    tokens: (kind: TokenKind = 'email_confirmation') => h.db.selectFrom('tokens').selectAll().where('kind', '=', kind).orderBy('id').execute(),
    audit: () => listAudit(h.db),
  };
}
