import { sql } from 'kysely';
import { BACKEND, createTestDatabase, type TestDatabase } from '../helpers/backend';
import { runCtl, type CtlResult } from '../helpers/cli';
import { tally } from './helpers/tally';

// Concurrency: several ctl processes (or callers) at once on the same rows. On PGlite the
// data-directory lock serialises them, so the processes wait for each other (a long lock wait);
// on PostgreSQL they really overlap and the database's constraints and locks decide.

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb?.destroy());
beforeEach(() => tdb.reset());

const WAIT = { CTL_LOCK_WAIT_MS: '170000' };
// The issue's scenario runs 20 processes on both backends; the others run 8 on PGlite, where the
// processes only queue for the lock and each costs a PGlite start (the lock itself has its own
// 20-process race in embedded-db.pglite.test.ts).
const N = BACKEND === 'postgres' ? 20 : 8;

/** `code first-line-of-stderr` per run, sorted, so a failure shows what each process said. */
function outcomes(runs: readonly CtlResult[]): string[] {
  return runs.map((r) => `${r.code}${r.code === 0 ? '' : ` ${r.stderr.trim()}`}`).sort();
}

async function count(table: string, where = sql`true`): Promise<number> {
  return tdb.withDb(async ({ db }) => {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE ${where}`.execute(db);
    return rows[0].n;
  });
}

test('20 processes run `ctl user new` with one nickname at once: exactly one succeeds, 19 exit 4, one row, one audit row, one token', async () => {
  const runs = await Promise.all(
    Array.from({ length: 20 }, (_, i) => runCtl(tdb, ['user', 'new', 'alice', `alice${i}@example.com`, '-y'], { env: WAIT, timeoutMs: 175000 })),
  );
  tally('faults', 19);
  expect(outcomes(runs.filter((r) => r.code !== 0))).toEqual(Array(19).fill('4 nickname alice is already taken'));
  for (const r of runs.filter((r) => r.code === 4)) expect(r.stdout).not.toContain('User alice created');
  const winner = runs.find((r) => r.code === 0)!;
  expect(winner.stdout).toContain('User alice created\n');
  expect(await count('users')).toBe(1);
  expect(await count('audit_log', sql`verb = 'new'`)).toBe(1);
  // The losers' set-password tokens were never written (or rolled back with their insert).
  expect(await count('tokens')).toBe(1);
}, 180000);

test(`${N} processes create ${N} different users at once: all succeed, nothing lost`, async () => {
  const runs = await Promise.all(
    Array.from({ length: N }, (_, i) => runCtl(tdb, ['user', 'new', `user${i}`, `user${i}@example.com`, '-y', '--password-stdin'], { input: 'correct horse\n', env: WAIT, timeoutMs: 175000 })),
  );
  tally('faults', N - 1);
  expect(outcomes(runs).filter((o) => o !== '0')).toEqual([]);
  expect(await count('users')).toBe(N);
  expect(await count('audit_log', sql`verb = 'new'`)).toBe(N);
  const nicknames = await tdb.withDb(async ({ db }) => (await db.selectFrom('users').select('nickname').orderBy('nickname').execute()).map((u) => u.nickname));
  expect(nicknames).toEqual(Array.from({ length: N }, (_, i) => `user${i}`).sort());
}, 180000);

test(`one email, ${N} nicknames, at once: exactly one account for the email`, async () => {
  const runs = await Promise.all(
    Array.from({ length: N }, (_, i) => runCtl(tdb, ['user', 'new', `nick${i}`, i % 2 ? 'SAME@example.com' : 'same@example.com', '-y'], { env: WAIT, timeoutMs: 175000 })),
  );
  tally('faults', N - 1);
  expect(runs.filter((r) => r.code === 0)).toHaveLength(1);
  for (const r of runs.filter((r) => r.code !== 0)) {
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^email (SAME|same)@example\.com is already taken\n$/);
  }
  expect(await count('users')).toBe(1);
  expect(await count('audit_log')).toBe(1);
}, 180000);
