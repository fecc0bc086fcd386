// A TOTP guess and a backup code sent at the same moment must not pass the wrong-code limit together
// (lib/auth/second-factor-limit.ts): the TOTP check holds the limiter's lock from its check to its
// commit, so the backup code's attempt is counted after it and sees the limit reached.
import { Client } from 'pg';
import { createHashPool, type HashPool } from '../../../lib/auth/hash-pool';
import { beginMfa, confirmMfa, disableMfa, totpCode } from '../../../lib/auth/mfa';
import { SecondFactorLimitError } from '../../../lib/auth/second-factor-limit';
import type { DbHandle } from '../../../lib/db/db';
import { libContext, useOpenTestDatabase, type TestDatabase } from '../../helpers/backend';
import { seedUserRows } from '../../helpers/seed-users';
import { NOW } from '../../helpers/user-fixture';

const LIMITS = { maxFailures: 3, windowMs: 15 * 60e3 };
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
 * Locks not granted in the test's database: statements waiting. (pg_locks is read live; joined with
 * pg_stat_activity it would not be: that is a snapshot kept for the holder's whole transaction.)
 */
async function waiting(holder: Client): Promise<number> {
  const { rows } = await holder.query(
    `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return rows[0].n as number;
}

/** Until `n` statements wait, at most ~10 s: a test that went on without them would prove nothing. */
async function until(holder: Client, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await waiting(holder)) >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${n} statements never waited at once`);
}

/** A settled promise's outcome, to compare after the test has let it go. */
const outcome = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

test.each([
  ['TOTP code', 'backup code'],
  ['backup code', 'TOTP code'],
])('at one below the limit, a wrong %s and then a wrong %s at once: the first counted, the second refused', async (first) => {
  await seedUserRows(handle.db, { nickname: 'alice', email: 'alice@example.com' });
  const { id } = await handle.db.selectFrom('users').select('id').where('nickname', '=', 'alice').executeTakeFirstOrThrow();
  const enrolment = await beginMfa(ctx(), pool, id, { bcryptCost: 4, issuer: 'test' });
  expect(await confirmMfa(ctx(), id, totpCode(enrolment.secret, NOW))).toBe(true);
  for (let i = 0; i < LIMITS.maxFailures - 1; i++) expect(await disableMfa(ctx(), pool, id, 'aaaaa-aaaaa', LIMITS)).toBe(false);
  // A code from a day earlier: six digits, and wrong now.
  const codes = { 'TOTP code': totpCode(enrolment.secret, new Date(NOW.getTime() - 86400e3)), 'backup code': 'bbbbb-bbbbb' };
  const [firstCode, secondCode] = first === 'TOTP code' ? [codes['TOTP code'], codes['backup code']] : [codes['backup code'], codes['TOTP code']];

  // The test holds back every count (an INSERT into login_limits waits for its SHARE lock), so the
  // first code has passed its check and waits to count when the second arrives.
  const holder = new Client({ connectionString: tdb.url! });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE login_limits IN SHARE MODE');
    const one = outcome(disableMfa(ctx(), pool, id, firstCode, LIMITS));
    await until(holder, 1);
    const two = outcome(disableMfa(ctx(), pool, id, secondCode, LIMITS));
    // The second waits too: for the limiter lock the first holds (or, without it, to count).
    await until(holder, 2);
    await holder.query('COMMIT');
    expect(await one).toEqual({ value: false });
    const second = await two;
    expect('error' in second && second.error).toBeInstanceOf(SecondFactorLimitError);
  } finally {
    await holder.end();
  }
  const counted = await handle.db.selectFrom('login_limits').select('key').where('key', 'like', 'second-factor:%').execute();
  expect(counted).toHaveLength(LIMITS.maxFailures);
});
