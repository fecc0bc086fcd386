// The real bin/ctl, and a real `ctl serve`, through PgBouncer in transaction pooling mode (Debian's
// pgbouncer, started by test/helpers/pgbouncer.ts with three server connections handed out in turn):
// `ctl migrate` on a new database, `import`, ordinary verbs, the bulk verbs' single-run lock
// (lib/bulk/lock.ts), and a login with a logged-in request.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { CTL, ctlEnv, runCtl, useTempDir, type CtlResult } from '../helpers/cli';
import { usePgBouncer, type PgBouncer } from '../helpers/pgbouncer';
import { PG_ADMIN_URL, PG_PREFIX, pgUrl } from '../setup/paths';
import { MIGRATIONS } from '../../migrations/index';

let bouncer: PgBouncer;
let dir: string;
usePgBouncer((b) => (bouncer = b), { poolSize: 3 });
useTempDir('ctl-pgbouncer-', (d) => (dir = d));

/** Runs bin/ctl with DATABASE_URL pointing through PgBouncer at `direct`'s database. */
const ctl = (direct: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CtlResult> =>
  runCtl(null, args, { ...opts, env: { DATABASE_URL: bouncer.url(direct) } });

async function query<T = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Advisory locks still held on `url`'s database by anyone, seen directly on the server. */
const advisoryLocks = async (url: string): Promise<number> =>
  (
    await query<{ n: number }>(
      url,
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE l.locktype = 'advisory' AND s.datname = current_database()`,
    )
  )[0].n;

test('the PgBouncer of these tests pools by transaction: one client’s transactions run on different server connections', async () => {
  const tdb = await createTestDatabase();
  const client = new Client({ connectionString: bouncer.url(tdb.url!) });
  try {
    await bouncer.fill(tdb.url!);
    await client.connect();
    const pids: number[] = [];
    for (let i = 0; i < 6; i++) pids.push((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    expect(new Set(pids).size).toBe(3);
    expect(pids.slice(3)).toEqual(pids.slice(0, 3));
  } finally {
    await client.end().catch(() => undefined);
    await tdb.destroy();
  }
});

describe('ctl migrate on a new database', () => {
  const names = [`${PG_PREFIX}_bouncer_new1`, `${PG_PREFIX}_bouncer_new2`];
  beforeAll(async () => {
    for (const name of names) await query(PG_ADMIN_URL, `CREATE DATABASE "${name}"`);
  });
  afterAll(async () => {
    for (const name of names) await query(PG_ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
  });
  const all = Object.keys(MIGRATIONS).sort();

  // Kysely's own lock (a session lock, then the migrations' transaction, then the unlock) spans
  // three server connections here: the unlock lands elsewhere and the lock stays behind.
  test('applies every migration, leaves no lock behind, and then has nothing to do', async () => {
    const url = pgUrl(names[0]);
    await bouncer.fill(url);
    const first = await ctl(url, ['migrate']);
    expect(first).toMatchObject({ code: 0, stderr: '', stdout: `Applied ${all.length} migrations: ${all.join(', ')}\n` });
    expect(await advisoryLocks(url)).toBe(0);
    const status = await ctl(url, ['migrate', 'status', '--json']);
    expect(status.code).toBe(0);
    const { migrations } = JSON.parse(status.stdout) as { migrations: { name: string; executedAt: string | null }[] };
    expect(migrations.map((m) => [m.name, m.executedAt !== null])).toEqual(all.map((name) => [name, true]));
    for (let i = 0; i < 3; i++) expect(await ctl(url, ['migrate'])).toMatchObject({ code: 0, stdout: 'The schema is up to date\n' });
    expect(await advisoryLocks(url)).toBe(0);
  });

  test('two at once: one applies the migrations, the other waits for it and finds nothing to do', async () => {
    const url = pgUrl(names[1]);
    await bouncer.fill(url);
    const runs = await Promise.all([ctl(url, ['migrate']), ctl(url, ['migrate'])]);
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    expect(runs.map((r) => r.stdout).sort()).toEqual([`Applied ${all.length} migrations: ${all.join(', ')}\n`, 'The schema is up to date\n'].sort());
    expect(await query<{ name: string }>(url, 'SELECT name FROM kysely_migration ORDER BY name')).toEqual(all.map((name) => ({ name })));
    expect(await advisoryLocks(url)).toBe(0);
  });
});

describe('verbs', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb?.destroy();
  });

  test('import, then ordinary verbs read and change what it wrote', async () => {
    const file = path.join(dir, 'users.csv');
    fs.writeFileSync(
      file,
      'nickname,email,name,password\nann,ann@example.com,Ann,ann-secret-1\nben,ben@example.com,Ben,\ncat,cat@example.com,Cat,cat-secret-1\n',
    );
    const imported = await ctl(tdb.url!, ['user', 'import', file]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('Created: 3, Skipped: 0, Failed: 0');
    // Run again, the import finds its rows and skips them.
    expect((await ctl(tdb.url!, ['user', 'import', file])).stdout).toContain('Created: 0, Skipped: 3, Failed: 0');

    expect(await ctl(tdb.url!, ['user', 'set', 'ben', '--admin'])).toMatchObject({ code: 0, stderr: '' });
    expect(await ctl(tdb.url!, ['user', 'tag', 'cat', 'team'])).toMatchObject({ code: 0, stderr: '' });
    const deactivated = await ctl(tdb.url!, ['user', 'deactivate', 'ann']);
    expect(deactivated).toMatchObject({ code: 0, stderr: '' });
    expect(deactivated.stdout).toMatch(/^Successfully deactivated ann/);
    const list = await ctl(tdb.url!, ['user', 'list', '--json']);
    expect(list.code).toBe(0);
    const users = JSON.parse(list.stdout) as { nickname: string; admin: boolean; active: boolean; tags: string[] }[];
    expect(users.map((u) => [u.nickname, u.admin, u.active, u.tags])).toEqual([
      ['ann', false, false, []],
      ['ben', true, true, []],
      ['cat', false, true, ['team']],
    ]);
    const audit = await ctl(tdb.url!, ['audit', 'list', '--json']);
    expect((JSON.parse(audit.stdout) as { verb: string }[]).map((a) => a.verb).sort()).toEqual(['deactivate', 'import', 'import', 'import', 'set', 'tag']);
  });

  describe('confirm_all, the single-run bulk verb', () => {
    const N = 5000;
    const BATCH = '500';
    const confirmAll = ['user', 'confirm_all', '-y', '--batch-size', BATCH];
    beforeEach(async () => {
      await tdb.reset();
      await query(
        tdb.url!,
        `INSERT INTO users (nickname, email, name, confirmed) SELECT 'u' || g, 'u' || g || '@example.com', 'u', false FROM generate_series(1, $1::int) g`,
        [N],
      );
    });
    const audited = async () => (await query<{ n: number }>(tdb.url!, `SELECT count(*)::int AS n FROM audit_log WHERE verb = 'confirm_all'`))[0].n;

    /**
     * Holds a row lock on a user half-way through, directly on the server, so a run stops at that
     * batch (mid-job, its lock held, earlier batches committed) until `release()`.
     */
    async function holdMidway(): Promise<{ blocked(): Promise<void>; release(): Promise<void> }> {
      const hold = new Client({ connectionString: tdb.url! });
      await hold.connect();
      await hold.query('BEGIN');
      await hold.query(`SELECT 1 FROM users WHERE nickname = $1 FOR UPDATE`, [`u${N / 2}`]);
      let released = false;
      return {
        async blocked() {
          // Watched from outside the holding transaction, whose view of pg_stat_activity is frozen.
          for (let i = 0; i < 800; i++) {
            const [{ n }] = await query<{ n: number }>(
              tdb.url!,
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            );
            if (n > 0) return;
            await new Promise((r) => setTimeout(r, 25));
          }
          throw new Error('the run never reached the held row');
        },
        async release() {
          if (released) return;
          released = true;
          await hold.query('COMMIT');
          await hold.end();
        },
      };
    }

    test('two at once: the second exits 4 while the first runs; the first confirms everyone once', async () => {
      const held = await holdMidway();
      try {
        const first = ctl(tdb.url!, confirmAll, { timeoutMs: 120000 });
        await Promise.race([held.blocked(), first.then((r) => Promise.reject(new Error(`the first run ended: ${JSON.stringify(r)}`)))]);
        const second = await ctl(tdb.url!, confirmAll);
        expect(second).toMatchObject({ code: 4, stdout: '', stderr: 'another confirm_all is already running\n' });
        await held.release();
        const done = await first;
        expect(done).toMatchObject({ code: 0, stderr: '' });
        expect(done.stdout).toMatch(new RegExp(`^Confirmed ${N} users in \\d+ batches\\.$`, 'm'));
      } finally {
        await held.release();
      }
      expect(await audited()).toBe(N);
      expect(await query(tdb.url!, `SELECT count(*)::int AS n FROM users WHERE NOT confirmed`)).toEqual([{ n: 0 }]);
      expect(await advisoryLocks(tdb.url!)).toBe(0);
    }, 120000);

    test('killed mid-run (SIGKILL), a re-run right away gets the lock and finishes the job', async () => {
      const held = await holdMidway();
      let before: number;
      try {
        const child = spawn(process.execPath, [CTL, ...confirmAll], { env: ctlEnv(null, { DATABASE_URL: bouncer.url(tdb.url!) }), stdio: 'ignore' });
        const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
        await held.blocked();
        child.kill('SIGKILL');
        expect(await exit).toBe('SIGKILL');
        before = await audited();
        expect(before).toBeGreaterThan(0);
        expect(before).toBeLessThan(N / 2);
      } finally {
        await held.release();
      }
      const rerun = await ctl(tdb.url!, confirmAll, { timeoutMs: 120000 });
      expect(rerun).toMatchObject({ code: 0, stderr: '' });
      expect(rerun.stdout).toMatch(new RegExp(`^Confirmed ${N - before} users in \\d+ batch(es)?\\.$`, 'm'));
      expect(await audited()).toBe(N);
    }, 120000);
  });

  test('ctl serve: a login, then logged-in requests, several at once', async () => {
    await tdb.reset();
    expect(await ctl(tdb.url!, ['user', 'new', 'dora', 'dora@example.com', '-y', '--password-stdin'], { input: 'dora-secret-1\n' })).toMatchObject({ code: 0 });
    const child = spawn(process.execPath, [CTL, 'serve', '--port', '0'], { env: ctlEnv(null, { DATABASE_URL: bouncer.url(tdb.url!) }) });
    let err = '';
    const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const base = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d) => {
          err += d;
          const match = /^Listening on (http:\/\/127\.0\.0\.1:\d+) /m.exec(err);
          if (match) resolve(match[1]);
        });
        void exit.then((code) => reject(new Error(`ctl serve exited ${code}: ${err}`)));
        setTimeout(() => reject(new Error(`ctl serve did not start: ${err}`)), 20000).unref();
      });
      const login = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'dora', password: 'dora-secret-1' }),
      });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const me = await Promise.all(Array.from({ length: 12 }, () => fetch(`${base}/api/user`, { headers: { authorization: `Bearer ${token}` } })));
      expect(me.map((r) => r.status)).toEqual(Array(12).fill(200));
      expect(((await me[0].json()) as { username: string }).username).toBe('dora');
      const wrong = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'dora', password: 'not-her-password' }),
      });
      expect(wrong.status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exit).toBe(0);
    expect(err).not.toMatch(/error|\n\s+at /i);
    expect(err).toMatch(/POST \/api\/auth\/login 200/);
  });
});
