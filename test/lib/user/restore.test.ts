import { libContext, type TestDatabase, useOpenTestDatabase } from '../../helpers/backend';
import { seedToken, seedUser } from '../../helpers/seed-users';
import { liveTokenCount } from '../../helpers/table-state';
import type { DbHandle } from '../../../lib/db/db';
import { softDeleteUser } from '../../../lib/user/rm';
import { planRestore, restoreUser } from '../../../lib/user/restore';
import { findUser } from '../../../lib/user/find';
import { listAudit } from '../../../lib/audit/audit';
import { withBulkLock } from '../../../lib/bulk/lock';
import { ConflictError, NotFoundError } from '../../../lib/errors';

let tdb: TestDatabase;
let h: DbHandle;
useOpenTestDatabase((d, handle) => {
  tdb = d;
  h = handle;
});

const DAY = 86400e3;
const T0 = new Date('2030-01-10T12:00:00.000Z');
const at = (d: Date) => libContext(h, { now: () => d, actor: 'root', reason: 'gdpr request' });
const SETTINGS = { retentionDays: 90, batchSize: 1000 };
const liveTokens = (userId: number) => liveTokenCount(h.db, userId);

describe('restore', () => {
  let alice: number;
  beforeEach(async () => {
    alice = await seedUser(h.db, { nickname: 'alice' });
    await seedUser(h.db, { nickname: 'bob' });
  });

  test('inside the window: undeleted and active again, tokens stay revoked, audit row', async () => {
    await seedToken(h.db, alice, 'access');
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    const later = new Date(T0.getTime() + 10 * DAY);
    expect(await planRestore(at(later), 'alice', SETTINGS)).toEqual({ id: alice, nickname: 'alice', changed: true, active: true, deletedAt: T0, dryRun: true });
    expect((await findUser(h.db, 'alice', { includeDeleted: true }))?.deleted_at).toEqual(T0);
    const result = await restoreUser(at(later), 'alice', SETTINGS);
    expect(result).toEqual({ id: alice, nickname: 'alice', changed: true, active: true, deletedAt: T0, dryRun: false });
    expect(await findUser(h.db, 'alice')).toMatchObject({ deleted_at: null, active: true });
    expect(await liveTokens(alice)).toBe(0);
    const audit = await listAudit(h.db, { verb: 'restore' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ targetUserId: alice, details: { deletedAt: T0.toISOString(), active: true } });
  });

  test('an account deactivated before it was deleted comes back deactivated', async () => {
    await h.db.updateTable('users').set({ active: false }).where('id', '=', alice).execute();
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    expect(await restoreUser(at(T0), 'alice', SETTINGS)).toMatchObject({ changed: true, active: false });
    expect(await findUser(h.db, 'alice')).toMatchObject({ deleted_at: null, active: false });
  });

  test('an account deleted by something else than rm (no audit row) comes back deactivated', async () => {
    await h.db.updateTable('users').set({ deleted_at: T0, active: false }).where('id', '=', alice).execute();
    expect(await restoreUser(at(T0), 'alice', SETTINGS)).toMatchObject({ changed: true, active: false });
  });

  test('the window is inclusive of its last moment and closed after it (exit 4)', async () => {
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    await softDeleteUser(at(T0), 'bob', SETTINGS);
    const edge = new Date(T0.getTime() + 90 * DAY);
    await expect(restoreUser(at(edge), 'alice', SETTINGS)).resolves.toMatchObject({ changed: true });
    const past = new Date(edge.getTime() + 1);
    const message = 'cannot restore bob: deleted on 2030-01-10, more than 90 days ago (CTL_RETENTION_DAYS): past the retention window';
    await expect(restoreUser(at(past), 'bob', SETTINGS)).rejects.toThrow(new ConflictError(message));
    await expect(planRestore(at(past), 'bob', SETTINGS)).rejects.toThrow(ConflictError);
    expect((await findUser(h.db, 'bob', { includeDeleted: true }))?.deleted_at).toEqual(T0);
  });

  test('not deleted: nothing to do; missing or remote: "No local user X"', async () => {
    expect(await restoreUser(at(T0), 'alice', SETTINGS)).toMatchObject({ changed: false, active: true, deletedAt: null });
    expect(await listAudit(h.db)).toEqual([]);
    await seedUser(h.db, { nickname: 'far@remote.example', deletedAt: T0 });
    await expect(restoreUser(at(T0), 'far@remote.example', SETTINGS)).rejects.toThrow(new NotFoundError('No local user far@remote.example'));
    await expect(restoreUser(at(T0), 'nobody', SETTINGS)).rejects.toThrow(new NotFoundError('No local user nobody'));
  });

  test('refused while a purge holds its lock', async () => {
    await softDeleteUser(at(T0), 'alice', SETTINGS);
    if (tdb.backend === 'pglite') {
      // One connection, so the lock holder can only be this very session: it does not block itself.
      await expect(withBulkLock(h.db, 'purge_deleted', (conn) => restoreUser({ ...at(T0), db: conn }, 'alice', SETTINGS))).resolves.toMatchObject({
        changed: true,
      });
      return;
    }
    const other = await tdb.open();
    try {
      let release!: () => void;
      const held = withBulkLock(other.db, 'purge_deleted', () => new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 100));
      await expect(restoreUser(at(T0), 'alice', SETTINGS)).rejects.toThrow(
        new ConflictError('cannot restore alice while purge_deleted is running: try again when it has finished'),
      );
      release();
      await held;
      await expect(restoreUser(at(T0), 'alice', SETTINGS)).resolves.toMatchObject({ changed: true });
    } finally {
      await other.close();
    }
  });
});
