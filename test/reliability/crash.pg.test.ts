import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { runCtl, type CtlResult } from '../helpers/cli';
import { CRASH_ROWS, monitor, one, startCtl, terminateOthers, waitForNoOthers, waitForProgress } from './helpers/crash';
import { tally } from './helpers/tally';

// Crashes, on PostgreSQL (PGlite is one process: there a crash is the lock scenario's SIGKILL).
// Each bulk verb is killed mid-run over CRASH_ROWS rows, twice: SIGKILL of the ctl process, and
// its server connections killed (pg_terminate_backend, what a restart or failover does). Then:
// every batch fully applied or not at all, audit rows matching exactly what was applied, the
// connection loss reported as exit 6 with one clear line, and a re-run that completes the job.

const BATCH = 2000;
let tdb: TestDatabase;
let mon: Client;
let dir: string;
beforeAll(async () => {
  tdb = await createTestDatabase();
  mon = await monitor(tdb);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-crash-'));
});
afterAll(async () => {
  await mon?.end();
  await tdb?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Fault = 'SIGKILL' | 'pg_terminate_backend';
/** The runner's line for a lost connection; the reason is the driver's, depending on when the kill lands. */
const REASON =
  '(terminating connection due to administrator command|Connection terminated unexpectedly|Client has encountered a connection error and is not queryable|read ECONNRESET)';
const LOST = new RegExp(`^lost the connection to the database: ${REASON}; nothing of the unfinished transaction was saved$`);

/** Starts `args`, waits until `progress` reaches `atLeast`, injects the fault, and returns how the run ended. */
async function crash(args: string[], fault: Fault, progress: string, atLeast: number): Promise<CtlResult> {
  const run = startCtl(tdb, args, { timeoutMs: 300000 });
  await waitForProgress(run, mon, progress, atLeast);
  if (fault === 'SIGKILL') run.child.kill('SIGKILL');
  else expect(await terminateOthers(mon)).toBeGreaterThan(0);
  tally('faults');
  const r = await run.done;
  await waitForNoOthers(mon);
  if (process.env.CTL_RELIABILITY_DEBUG) console.log(fault, args.join(' '), r.code, r.signal, r.stderr.slice(-2000));
  return r;
}

/** A fifth of the batches a job of `n` rows takes: when to strike. */
function batches(n: number): number {
  return Math.max(1, Math.floor(n / BATCH / 5));
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

const rows = (text: string, params: unknown[] = []) => mon.query(text, params).then((r) => r.rows);

// ---------------------------------------------------------------------------------------------

describe.each<[Fault, number]>([
  ['SIGKILL', CRASH_ROWS],
  ['pg_terminate_backend', Math.ceil(CRASH_ROWS / 4)],
])('confirm_all, %s mid-run over %i users', (fault, n) => {
  let killed: CtlResult;
  beforeAll(async () => {
    await tdb.reset();
    await mon.query(
      `INSERT INTO users (nickname, email, name, confirmed) SELECT 'u' || g, 'u' || g || '@example.com', 'u', false FROM generate_series(1, $1::int) g`,
      [n],
    );
    // A few that confirm_all must never touch.
    await mon.query(`INSERT INTO users (nickname, email, name, confirmed, admin) VALUES ('root', 'root@example.com', 'r', false, true)`);
    killed = await crash(
      ['user', 'confirm_all', '-y', '--batch-size', String(BATCH)],
      fault,
      `SELECT count(*)::int FROM audit_log WHERE verb = 'confirm_all'`,
      Math.min(n / 5, 20 * BATCH),
    );
  }, 300000);

  test('whole batches: the confirmed users are an id prefix, grouped exactly as their audit rows, none larger than a batch', async () => {
    if (fault === 'SIGKILL') expect(killed.signal).toBe('SIGKILL');
    const confirmed = Number(await one(mon, `SELECT count(*)::int FROM users WHERE confirmed AND nickname LIKE 'u%'`));
    expect(confirmed).toBeGreaterThan(0);
    expect(confirmed).toBeLessThan(n);
    // An id prefix: nobody after the first unconfirmed user is confirmed.
    expect(
      await one(
        mon,
        `SELECT count(*)::int FROM users WHERE confirmed AND nickname LIKE 'u%' AND id > (SELECT min(id) FROM users WHERE NOT confirmed AND nickname LIKE 'u%')`,
      ),
    ).toBe(0);
    // Audit rows: exactly the confirmed users, once each.
    expect(await one(mon, `SELECT count(*)::int FROM audit_log WHERE verb = 'confirm_all'`)).toBe(confirmed);
    expect(
      await one(
        mon,
        `SELECT count(*)::int FROM users u FULL JOIN (SELECT target_user_id FROM audit_log WHERE verb = 'confirm_all') a ON a.target_user_id = u.id WHERE (u.confirmed AND u.nickname LIKE 'u%') IS DISTINCT FROM (a.target_user_id IS NOT NULL)`,
      ),
    ).toBe(0);
    // A batch is one transaction: its users share one updated_at, its audit rows one `at`; the two
    // groupings must be the same partition, and no group bigger than a batch.
    const groups = await rows(`
      SELECT u.updated_at, count(*)::int AS users, count(DISTINCT a.at)::int AS audit_times
      FROM users u JOIN audit_log a ON a.target_user_id = u.id AND a.verb = 'confirm_all'
      GROUP BY u.updated_at`);
    expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) {
      expect(g.audit_times).toBe(1);
      expect(g.users).toBeLessThanOrEqual(BATCH);
    }
    expect(groups.reduce((a, g) => a + g.users, 0)).toBe(confirmed);
    expect(await one(mon, `SELECT count(*)::int FROM audit_log WHERE verb = 'confirm_all' GROUP BY at ORDER BY count(*) DESC LIMIT 1`)).toBeLessThanOrEqual(
      BATCH,
    );
    expect(await one(mon, `SELECT confirmed FROM users WHERE nickname = 'root'`)).toBe(false);
  });

  if (fault === 'pg_terminate_backend') {
    test('exit 6 and one line: the connection was lost, the unfinished batch not saved', () => {
      expect(killed.code).toBe(6);
      expect(lastLine(killed.stderr)).toMatch(LOST);
    });
    test('it is exit 6 or 7, one line, never an internal error or a stack', () => {
      expect([6, 7]).toContain(killed.code);
      expect(killed.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(lastLine(killed.stderr)).toMatch(new RegExp(REASON));
    });
  }

  test('a re-run confirms exactly the rest, and the end state is whole', async () => {
    const before = Number(await one(mon, `SELECT count(*)::int FROM users WHERE confirmed AND nickname LIKE 'u%'`));
    const r = await runCtl(tdb, ['user', 'confirm_all', '-y', '--batch-size', String(BATCH)], { timeoutMs: 300000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Confirmed ${n - before} users in \\d+ batch(es)?\\.$`, 'm'));
    expect(await one(mon, `SELECT count(*)::int FROM users WHERE NOT confirmed AND nickname LIKE 'u%'`)).toBe(0);
    expect(await one(mon, `SELECT count(*)::int FROM audit_log WHERE verb = 'confirm_all'`)).toBe(n);
    expect(await one(mon, `SELECT count(DISTINCT target_user_id)::int FROM audit_log WHERE verb = 'confirm_all'`)).toBe(n);
  }, 300000);
});

// ---------------------------------------------------------------------------------------------

async function seedVictim(activities: number): Promise<number> {
  await tdb.reset();
  await mon.query(`INSERT INTO users (nickname, email, name, confirmed, admin) VALUES ('root', 'root@example.com', 'r', true, true)`);
  const id = Number(await one(mon, `INSERT INTO users (nickname, email, name, confirmed) VALUES ('victim', 'victim@example.com', 'v', true) RETURNING id`));
  await mon.query(`INSERT INTO users (nickname, email, name) SELECT 'f' || g, 'f' || g || '@example.com', 'f' FROM generate_series(1, 50) g`);
  await mon.query(`INSERT INTO follows (follower_id, following_id) SELECT $1, id FROM users WHERE nickname LIKE 'f%'`, [id]);
  await mon.query(`INSERT INTO follows (follower_id, following_id) SELECT id, $1 FROM users WHERE nickname LIKE 'f%'`, [id]);
  await mon.query(`INSERT INTO tokens (kind, token_hash, user_id) SELECT 'access', md5('t' || g), $1 FROM generate_series(1, 5) g`, [id]);
  await mon.query(`INSERT INTO activities (actor_id, type, object) SELECT $1, 'Note', 'post ' || g FROM generate_series(1, $2::int) g`, [id, activities]);
  // Someone else's activities, which must survive everything.
  await mon.query(`INSERT INTO activities (actor_id, type, object) SELECT id, 'Note', 'other' FROM users WHERE nickname LIKE 'f%'`);
  return id;
}

describe.each<[Fault, number]>([
  ['SIGKILL', CRASH_ROWS],
  ['pg_terminate_backend', Math.ceil(CRASH_ROWS / 4)],
])('delete_activities, %s mid-run over %i activities', (fault, n) => {
  let killed: CtlResult;
  let victim: number;
  let firstId: number;
  beforeAll(async () => {
    victim = await seedVictim(n);
    firstId = Number(await one(mon, `SELECT min(id)::int FROM activities WHERE actor_id = $1`, [victim]));
    killed = await crash(
      ['user', 'delete_activities', 'victim', '-y', '--batch-size', String(BATCH)],
      fault,
      `SELECT count(*)::int FROM audit_log WHERE verb = 'delete_activities'`,
      batches(n),
    );
  }, 300000);

  test('what is gone is exactly the sum of the audited batches, oldest first, each at most a batch', async () => {
    const left = Number(await one(mon, `SELECT count(*)::int FROM activities WHERE actor_id = $1`, [victim]));
    const audited = await rows(`SELECT (details->>'activities')::int AS n FROM audit_log WHERE verb = 'delete_activities' ORDER BY id`);
    const sum = audited.reduce((a, r) => a + r.n, 0);
    expect(audited.length).toBeGreaterThanOrEqual(batches(n));
    expect(left).toBe(n - sum);
    for (const r of audited) expect(r.n).toBeLessThanOrEqual(BATCH);
    // Deleted in id order: what is left is exactly the newest `left` activities.
    expect(await one(mon, `SELECT count(*)::int FROM activities WHERE actor_id = $1 AND id < $2`, [victim, firstId + sum])).toBe(0);
    expect(await one(mon, `SELECT count(*)::int FROM activities WHERE object = 'other'`)).toBe(50);
    if (fault === 'pg_terminate_backend') {
      expect(killed.code).toBe(6);
      expect(lastLine(killed.stderr)).toMatch(LOST);
    } else expect(killed.signal).toBe('SIGKILL');
  });

  test('a re-run deletes the rest', async () => {
    const r = await runCtl(tdb, ['user', 'delete_activities', 'victim', '-y', '--batch-size', String(BATCH)], { timeoutMs: 300000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('User victim statuses deleted.\n');
    expect(await one(mon, `SELECT count(*)::int FROM activities WHERE actor_id = $1`, [victim])).toBe(0);
    expect(await one(mon, `SELECT coalesce(sum((details->>'activities')::int), 0)::int FROM audit_log WHERE verb = 'delete_activities'`)).toBe(n);
    expect(await one(mon, `SELECT count(*)::int FROM activities WHERE object = 'other'`)).toBe(50);
  }, 300000);
});

// ---------------------------------------------------------------------------------------------

describe.each<[Fault, number]>([
  ['SIGKILL', CRASH_ROWS],
  ['pg_terminate_backend', Math.ceil(CRASH_ROWS / 4)],
])('rm --purge, %s mid-run over a user with %i activities', (fault, n) => {
  let killed: CtlResult;
  let victim: number;
  beforeAll(async () => {
    victim = await seedVictim(n);
    killed = await crash(
      ['user', 'rm', 'victim', '--purge', '-y', '--batch-size', String(BATCH)],
      fault,
      `SELECT count(*)::int FROM audit_log WHERE verb = 'rm' AND details->>'stage' = 'activities'`,
      batches(n),
    );
  }, 300000);

  test('all or nothing: the account is still whole (soft-deleted, signed out, follows and tokens kept) and only whole, audited activity batches are gone', async () => {
    const user = (await rows(`SELECT deleted_at IS NOT NULL AS deleted, active FROM users WHERE id = $1`, [victim]))[0];
    expect(user).toEqual({ deleted: true, active: false });
    expect(await one(mon, `SELECT count(*)::int FROM follows WHERE follower_id = $1 OR following_id = $1`, [victim])).toBe(100);
    expect(await one(mon, `SELECT count(*)::int FROM tokens WHERE user_id = $1`, [victim])).toBe(5);
    expect(await one(mon, `SELECT count(*)::int FROM tokens WHERE user_id = $1 AND revoked_at IS NULL`, [victim])).toBe(0);
    const sum = Number(
      await one(mon, `SELECT coalesce(sum((details->>'activities')::int), 0)::int FROM audit_log WHERE verb = 'rm' AND details->>'stage' = 'activities'`),
    );
    expect(await one(mon, `SELECT count(*)::int FROM activities WHERE actor_id = $1`, [victim])).toBe(n - sum);
    expect(
      await one(mon, `SELECT max((details->>'activities')::int) FROM audit_log WHERE verb = 'rm' AND details->>'stage' = 'activities'`),
    ).toBeLessThanOrEqual(BATCH);
    expect(await one(mon, `SELECT count(*)::int FROM audit_log WHERE verb = 'rm' AND details->>'stage' = 'account'`)).toBe(0);
    expect(await one(mon, `SELECT count(*)::int FROM audit_log WHERE verb = 'rm' AND (details->>'soft')::boolean`)).toBe(1);
    if (fault === 'pg_terminate_backend') {
      expect(killed.code).toBe(6);
      expect(lastLine(killed.stderr)).toMatch(LOST);
    } else expect(killed.signal).toBe('SIGKILL');
  });

  test('a re-run deletes the rest and the account, in one last transaction with its audit row', async () => {
    const r = await runCtl(tdb, ['user', 'rm', 'victim', '--purge', '-y', '--batch-size', String(BATCH)], { timeoutMs: 300000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('User victim deleted.\n');
    expect(await one(mon, `SELECT count(*)::int FROM users WHERE id = $1`, [victim])).toBe(0);
    for (const t of ['activities WHERE actor_id = $1', 'follows WHERE follower_id = $1 OR following_id = $1', 'tokens WHERE user_id = $1']) {
      expect(await one(mon, `SELECT count(*)::int FROM ${t}`, [victim])).toBe(0);
    }
    const account = await rows(`SELECT details->'deleted' AS deleted FROM audit_log WHERE verb = 'rm' AND details->>'stage' = 'account'`);
    expect(account).toHaveLength(1);
    expect(account[0].deleted).toMatchObject({ users: 1, follows: 100, tokens: 5 });
    expect(
      await one(mon, `SELECT coalesce(sum((details->>'activities')::int), 0)::int FROM audit_log WHERE verb = 'rm' AND details->>'stage' = 'activities'`),
    ).toBe(n);
    expect(await one(mon, `SELECT count(*)::int FROM users WHERE nickname LIKE 'f%'`)).toBe(50);
    expect(await one(mon, `SELECT count(*)::int FROM activities WHERE object = 'other'`)).toBe(50);
  }, 300000);
});

// ---------------------------------------------------------------------------------------------

describe.each<[Fault, number]>([
  ['SIGKILL', CRASH_ROWS],
  ['pg_terminate_backend', Math.ceil(CRASH_ROWS / 4)],
])('import, %s mid-run over a file of %i users', (fault, n) => {
  let killed: CtlResult;
  let file: string;
  beforeAll(async () => {
    await tdb.reset();
    file = path.join(dir, `users-${fault}.csv`);
    const out = fs.createWriteStream(file);
    out.write('nickname,email,name\n');
    for (let i = 1; i <= n; i++) out.write(`im${i},im${i}@example.com,Imported ${i}\n`);
    await new Promise((resolve) => out.end(resolve));
    killed = await crash(['user', 'import', file, '--batch-size', String(BATCH)], fault, `SELECT count(*)::int FROM users`, Math.min(n / 5, 20 * BATCH));
  }, 300000);

  test('whole batches: users, their set-password tokens and audit rows come in equal groups, one per transaction', async () => {
    const created = Number(await one(mon, `SELECT count(*)::int FROM users`));
    expect(created).toBeGreaterThan(0);
    expect(created).toBeLessThan(n);
    expect(await one(mon, `SELECT count(*)::int FROM audit_log WHERE verb = 'import'`)).toBe(created);
    expect(await one(mon, `SELECT count(*)::int FROM tokens WHERE kind = 'password_reset'`)).toBe(created);
    const groups = await rows(`
      SELECT u.created_at, count(*)::int AS users,
             (SELECT count(*)::int FROM audit_log a WHERE a.verb = 'import' AND a.at = u.created_at) AS audit,
             (SELECT count(*)::int FROM tokens t WHERE t.created_at = u.created_at) AS tokens
      FROM users u GROUP BY u.created_at`);
    for (const g of groups) {
      expect({ users: g.users, audit: g.audit, tokens: g.tokens }).toEqual({ users: g.users, audit: g.users, tokens: g.users });
      expect(g.users).toBeLessThanOrEqual(BATCH);
    }
    // File order: the users created are exactly the first `created` lines.
    expect(await one(mon, `SELECT count(*)::int FROM users WHERE substr(nickname, 3)::int > $1`, [created])).toBe(0);
    // The links printed before the crash are of committed accounts only (a link is printed after its
    // batch commits); at most the last committed batch's links were never printed.
    const printed = [...killed.stdout.matchAll(/^Password reset URL for (im\d+): /gm)].map((m) => m[1]);
    expect(printed.length).toBeLessThanOrEqual(created);
    expect(created - printed.length).toBeLessThanOrEqual(BATCH);
    if (printed.length) expect(await one(mon, `SELECT count(*)::int FROM users WHERE nickname = ANY($1)`, [printed])).toBe(printed.length);
    if (fault === 'pg_terminate_backend') {
      expect(killed.code).toBe(6);
      expect(lastLine(killed.stderr)).toMatch(LOST);
    } else expect(killed.signal).toBe('SIGKILL');
  });

  test('re-running the same import skips what is there and creates the rest', async () => {
    const before = Number(await one(mon, `SELECT count(*)::int FROM users`));
    const r = await runCtl(tdb, ['user', 'import', file, '--batch-size', String(BATCH)], { timeoutMs: 300000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Created: ${n - before}, Skipped: ${before}, Failed: 0\n`);
    expect(await one(mon, `SELECT count(*)::int FROM users`)).toBe(n);
    expect(await one(mon, `SELECT count(*)::int FROM audit_log WHERE verb = 'import'`)).toBe(n);
    expect(await one(mon, `SELECT count(*)::int FROM tokens WHERE kind = 'password_reset'`)).toBe(n);
  }, 300000);
});
