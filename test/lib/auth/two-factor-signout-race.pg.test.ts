// A sign-out (sign_out, deactivate, rm, a password reset, reset_mfa) locks the user row and then
// ends the user's pending two-factor logins; /api/auth/2fa/verify-temp must take the same two
// locks in the same order (the user, then the challenge), or the two deadlock: PostgreSQL then
// aborts one after deadlock_timeout, a 500 for the login or a failed sign-out.
import { Client } from 'pg';
import { createHashPool, type HashPool } from '../../../lib/auth/hash-pool';
import { beginMfa, confirmMfa, totpCode } from '../../../lib/auth/mfa';
import { beginChallenge, completeChallenge } from '../../../lib/auth/two-factor-login';
import { LoginFailedError } from '../../../lib/auth/login';
import type { DbHandle } from '../../../lib/db/db';
import { libContext, useOpenTestDatabase, type TestDatabase } from '../../helpers/backend';
import { seedUserRows } from '../../helpers/seed-users';
import { NOW } from '../../helpers/user-fixture';

const SETTINGS = { sessionTtlMs: 3600e3, refreshTtlMs: 86400e3, requireConfirmation: false, loginMaxFailures: 5, loginWindowMs: 15 * 60e3 };
let tdb: TestDatabase;
let handle: DbHandle;
let pool: HashPool;
useOpenTestDatabase((t, h) => {
  tdb = t;
  handle = h;
});
beforeAll(() => {
  pool = createHashPool(1);
});
afterAll(() => pool.close());

const ctx = () => libContext(handle, { now: () => NOW, actor: 'alice', reason: null });

/**
 * Until a session of the test's database waits for a lock, at most ~10 s. Asked on a connection
 * of its own outside any transaction (pg_stat_activity is a snapshot for a transaction's whole
 * life); a row lock's wait is on the holder's transaction id, which pg_locks shows without a database.
 */
async function untilOneWaits(): Promise<void> {
  const probe = new Client({ connectionString: tdb.url! });
  await probe.connect();
  try {
    for (let i = 0; i < 200; i++) {
      const { rows } = await probe.query(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`,
      );
      if ((rows[0].n as number) >= 1) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the verify-temp never waited for the user row');
  } finally {
    await probe.end();
  }
}

test('a sign-out holding the user row ends the pending login while verify-temp waits: no deadlock, the code is refused', async () => {
  await seedUserRows(handle.db, { nickname: 'alice', email: 'alice@example.com' });
  const user = await handle.db.selectFrom('users').selectAll().where('nickname', '=', 'alice').executeTakeFirstOrThrow();
  const enrolment = await beginMfa(ctx(), pool, user.id, { bcryptCost: 4, issuer: 'test' });
  expect(await confirmMfa(ctx(), user.id, totpCode(enrolment.secret, NOW))).toBe(true);
  const temp = await beginChallenge(ctx(), user);

  // The sign-out's transaction, paused between its two steps: the user row locked first.
  const signOut = new Client({ connectionString: tdb.url! });
  await signOut.connect();
  try {
    await signOut.query('BEGIN');
    await signOut.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.id]);
    const verify = completeChallenge(ctx(), pool, temp, totpCode(enrolment.secret, new Date(NOW.getTime() + 30e3)), SETTINGS).then(
      () => 'session issued',
      (error: unknown) => error,
    );
    await untilOneWaits();
    // Then what it ends: the pending login. Before, verify-temp held this row's lock here.
    const ended = await signOut.query('DELETE FROM two_factor_challenges WHERE user_id = $1', [user.id]);
    expect(ended.rowCount).toBe(1);
    await signOut.query('COMMIT');
    const outcome = await verify;
    expect(outcome).toBeInstanceOf(LoginFailedError);
    expect((outcome as Error).message).toBe('Invalid or expired two-factor login; log in again');
  } finally {
    await signOut.end();
  }
});
