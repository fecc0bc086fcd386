// The set-up of the tests that race two-factor checks against each other on a real PostgreSQL:
// a database held open, a hash pool of one thread, alice enrolled in MFA, and a wait for
// statements to block on a lock.
import { Client } from 'pg';
import { createHashPool, type HashPool } from '../../lib/auth/hash-pool';
import { beginMfa, confirmMfa, totpCode } from '../../lib/auth/mfa';
import type { DbHandle } from '../../lib/db/db';
import type { UserRow } from '../../lib/db/schema';
import type { LibContext } from '../../lib/lib-context';
import { libContext, useOpenTestDatabase, type TestDatabase } from './backend';
import { seedUserRows } from './seed-users';
import { NOW } from './user-fixture';

export interface MfaRaceDatabase {
  readonly tdb: TestDatabase;
  readonly handle: DbHandle;
  readonly pool: HashPool;
  /** The library's context, its clock stopped at NOW. */
  readonly ctx: () => LibContext;
  /** alice, with MFA enrolled and confirmed at NOW: her row and her TOTP secret. */
  enrolAlice(): Promise<{ user: UserRow; secret: string }>;
  /**
   * Until `n` sessions of the test's database wait for a lock, at most ~10 s: a test that went on
   * without them would prove nothing. Asked on a connection of its own outside any transaction
   * (pg_stat_activity is a snapshot for a transaction's whole life); a row lock's wait is on the
   * holder's transaction id, which pg_locks shows without a database.
   */
  untilWaiting(n: number): Promise<void>;
}

export function useMfaRaceDatabase(): MfaRaceDatabase {
  const fixture = {} as { tdb: TestDatabase; handle: DbHandle; pool: HashPool };
  useOpenTestDatabase((tdb, handle) => Object.assign(fixture, { tdb, handle }));
  beforeAll(() => {
    fixture.pool = createHashPool(1);
  });
  afterAll(() => fixture.pool.close());
  const ctx = () => libContext(fixture.handle, { now: () => NOW, actor: 'alice', reason: null });
  return {
    get tdb() {
      return fixture.tdb;
    },
    get handle() {
      return fixture.handle;
    },
    get pool() {
      return fixture.pool;
    },
    ctx,
    async enrolAlice() {
      await seedUserRows(fixture.handle.db, { nickname: 'alice', email: 'alice@example.com' });
      const user = await fixture.handle.db.selectFrom('users').selectAll().where('nickname', '=', 'alice').executeTakeFirstOrThrow();
      const enrolment = await beginMfa(ctx(), fixture.pool, user.id, { bcryptCost: 4, issuer: 'test' });
      if (!(await confirmMfa(ctx(), user.id, totpCode(enrolment.secret, NOW)))) throw new Error('the enrolment was not confirmed');
      return { user, secret: enrolment.secret };
    },
    async untilWaiting(n) {
      const probe = new Client({ connectionString: fixture.tdb.url! });
      await probe.connect();
      try {
        for (let i = 0; i < 200; i++) {
          const { rows } = await probe.query(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`,
          );
          if ((rows[0].n as number) >= n) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`${n} statements never waited at once`);
      } finally {
        await probe.end();
      }
    },
  };
}
