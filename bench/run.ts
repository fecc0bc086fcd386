// `npm run bench` (never part of `npm test`): seeds a PostgreSQL database with BENCH_USERS users
// and BENCH_ACTIVITIES activities using set-based SQL, then measures each case and, in the same
// run, its baseline: the same change as one hand-written SQL statement through psql (COPY ... TO STDOUT for
// reads, `node -e 0` for start-up). Prints a table, or with --json one JSON array on stdout.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { openDatabase } from '../lib/db/db';
import { migrateToLatest } from '../lib/db/migrate';
import { ctl, check, median, timed, CTL, ROOT, type Run } from './measure';
import * as seed from './seed';
import { parse as parseCsv } from 'csv-parse';
import { readRecords } from '../lib/import/parse';
import { measureConsoleSearch } from './console-search';

export interface CaseResult {
  readonly case: string;
  readonly seconds: number | null;
  readonly baselineSeconds: number | null;
  readonly ratio: number | null;
  readonly peakRssMb: number | null;
}

interface Outcome extends CaseResult {
  /** Shown in the table only: rows/s, missing verbs, failures. */
  readonly note: string;
  readonly failed?: boolean;
}

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number of at least ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

const started = Date.now();
function log(message: string): void {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
}

const round = (x: number | null, digits = 3) => (x === null ? null : Number(x.toFixed(digits)));

function result(name: string, seconds: number | null, baselineSeconds: number | null, peakRssMb: number | null, note = ''): Outcome {
  const ratio = seconds !== null && baselineSeconds !== null && baselineSeconds > 0 ? seconds / baselineSeconds : null;
  return { case: name, seconds: round(seconds), baselineSeconds: round(baselineSeconds), ratio: round(ratio, 2), peakRssMb: round(peakRssMb, 1), note };
}

/** A verb exists when its task module does (source and compiled): the other engineers add them. */
function verbExists(verb: string): boolean {
  return fs.existsSync(path.join(ROOT, 'tasks', 'user', `${verb}.ts`)) && fs.existsSync(path.join(ROOT, 'dist', 'tasks', 'user', `${verb}.js`));
}

class Bench {
  constructor(
    readonly db: Client,
    readonly url: string,
    readonly sizes: seed.Sizes,
    readonly importUsers: number,
    readonly coldRuns: number,
    readonly repeat: number,
    readonly timeoutMs: number,
  ) {}

  async count(query: string): Promise<number> {
    const { rows } = await this.db.query<{ n: string | number }>(query);
    return Number(rows[0].n);
  }

  /** The statements' own times (psql's \\timing) of the baselines run so far: for the notes. */
  readonly statementSeconds: number[] = [];

  /**
   * The same change by hand as issue 17 measures it: one statement through `psql` (its start, its
   * connection, the statement, autocommit). The statement's own time is kept for the note.
   */
  async psql(query: string): Promise<number> {
    const run = check(
      await timed('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', this.url, '-c', '\\timing on', '-c', query], { keepStdout: true }),
      'psql',
    );
    const time = /Time: ([\d.]+) ms/.exec(run.stdout);
    if (!time) throw new Error(`psql printed no time for the baseline: ${run.stdout.slice(0, 200)}`);
    this.statementSeconds.push(Number(time[1]) / 1000);
    return run.seconds;
  }

  /** The median statement time of the baselines since `from` (an index into statementSeconds), for a note. */
  statementNote(from: number): string {
    const times = this.statementSeconds.slice(from);
    return times.length ? `; the statement alone ${median(times).toFixed(3)} s` : '';
  }

  ctl(args: readonly string[]): Promise<Run> {
    return ctl(this.url, args, this.timeoutMs);
  }

  /** After a run was stopped: cancel what its server session may still be doing. */
  async cancelOthers(): Promise<void> {
    await this.db.query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  }
}

const REGULAR = 'local AND active AND NOT admin AND NOT moderator AND deleted_at IS NULL';
const AUDIT_COLUMNS = 'at, actor, verb, target_user_id, target_nickname, reason, details';

interface CaseDef {
  readonly name: string;
  /** The verb whose task module must exist, or null for cases that need none. */
  readonly verb: string | null;
  run(b: Bench): Promise<Outcome>;
  /** After a failed run: put back what later cases need. */
  restore?(b: Bench): Promise<void>;
}

/** A start-up case: the median of BENCH_COLD_RUNS runs of `ctl args` against as many of `node -e 0`. */
function coldStart(name: string, verb: string | null, args: readonly string[]): CaseDef {
  return {
    name,
    verb,
    async run(b) {
      const node: number[] = [];
      const cli: number[] = [];
      let rss = 0;
      for (let i = 0; i < b.coldRuns; i++) {
        node.push(check(await timed(process.execPath, ['-e', '0']), 'node -e 0').seconds);
        const r = check(await b.ctl(args), `ctl ${args.join(' ')}`);
        cli.push(r.seconds);
        rss = Math.max(rss, r.peakRssMb ?? 0);
      }
      return result(name, median(cli), median(node), rss || null, `median of ${b.coldRuns}; baseline node -e 0`);
    },
  };
}

/**
 * A case quick enough to run BENCH_REPEAT times (ctl, then the baseline, each on freshly restored
 * data): the medians, so one noisy second on a shared machine does not make the ratio.
 */
async function repeated(
  b: Bench,
  name: string,
  note: string,
  side: { ctl(): Promise<Run>; baseline(): Promise<number>; restore(): Promise<void> },
): Promise<Outcome> {
  const cli: number[] = [];
  const base: number[] = [];
  const statements = b.statementSeconds.length;
  let rss = 0;
  for (let i = 0; i < b.repeat; i++) {
    const r = await side.ctl();
    cli.push(r.seconds);
    rss = Math.max(rss, r.peakRssMb ?? 0);
    await side.restore();
    await seed.vacuum(b.db);
    base.push(await side.baseline());
    await side.restore();
    await seed.vacuum(b.db);
  }
  return result(name, median(cli), median(base), rss || null, `${note}${b.repeat > 1 ? `; median of ${b.repeat}` : ''}${b.statementNote(statements)}`);
}

/**
 * Import's CSV reader against csv-parse, on the same file in this process: issue 17 asks to use
 * the library unless it is more than 20% slower on a million rows. Both turn each record into
 * import's `{line, values}`; the ratio is ours / csv-parse (under 1 means ours is faster).
 */
const csvReaderCase: CaseDef = {
  name: 'CSV reader vs csv-parse (import file)',
  verb: 'import',
  async run(b) {
    const n = b.importUsers;
    const file = path.join(os.tmpdir(), `userctl-bench-csv-${process.pid}.csv`);
    try {
      const out = fs.createWriteStream(file);
      out.write('nickname,email,name,bio,tags\n');
      for (let i = 0; i < n; i++) {
        // Every tenth bio quoted, with doubled quotes and a line break: the slow path of both.
        const bio = i % 10 === 0 ? '"a bio with ""quotes""\nand a line break"' : 'plain bio';
        if (!out.write(`csv${i},csv${i}@import.example,"Reader, Number ${i}",${bio},"x,y"\n`))
          await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
      await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
      const ours = await readerSeconds(async () => {
        let count = 0;
        for await (const record of readRecords(fs.createReadStream(file), 'csv')) if (record.values) count++;
        return count;
      });
      const library = await readerSeconds(async () => {
        let count = 0;
        let header: string[] | null = null;
        const parser = fs.createReadStream(file).pipe(parseCsv({ bom: true, skip_empty_lines: true, relax_column_count: true, info: true }));
        for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
          if (header === null) {
            header = record.map((f) => f.trim().toLowerCase());
            continue;
          }
          const values: Record<string, string> = {};
          header.forEach((name, k) => (values[name] = record[k]));
          if ({ line: info.lines, values }.values) count++;
        }
        return count;
      });
      for (const [who, r] of [
        ['ours', ours],
        ['csv-parse', library],
      ] as const) {
        if (r.count !== n) throw new Error(`${who} read ${r.count} records, expected ${n}`);
      }
      return result(this.name, ours.seconds, library.seconds, null, `${n} records; baseline csv-parse (bom, info, relax_column_count), same process`);
    } finally {
      fs.rmSync(file, { force: true });
    }
  },
};

async function readerSeconds(read: () => Promise<number>): Promise<{ seconds: number; count: number }> {
  const started = process.hrtime.bigint();
  const count = await read();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, count };
}

/** `list --format <format>` of every user against psql's COPY of the same rows. */
function listCase(format: 'ndjson' | 'json' | 'csv'): CaseDef {
  return {
    name: `list --format ${format} (all users)`,
    verb: 'list',
    async run(b) {
      const expected = await b.count('SELECT count(*) AS n FROM users WHERE deleted_at IS NULL');
      // ndjson: a line per user; json adds the brackets; csv the header.
      const lines = format === 'ndjson' ? expected : format === 'json' ? expected + 2 : expected + 1;
      const copy = `COPY (SELECT id, nickname, email, name, bio, local, admin, moderator, locked, confirmed, active, deleted_at, tags, mfa_enabled, created_at, updated_at, last_login_at
                         FROM users WHERE deleted_at IS NULL ORDER BY id) TO STDOUT`;
      // Alternating, BENCH_REPEAT times each, medians: one run of each moved the ratio at 200,000
      // users from 1.35x to 2.05x between two formats that cost the same (2026-11-28).
      const cli: number[] = [];
      const base: number[] = [];
      let rss = 0;
      for (let i = 0; i < b.repeat; i++) {
        const r = check(await b.ctl(['user', 'list', '--all', '--format', format]), 'list');
        if (r.stdoutLines !== lines) throw new Error(`list printed ${r.stdoutLines} lines, expected ${lines}`);
        cli.push(r.seconds);
        rss = Math.max(rss, r.peakRssMb ?? 0);
        const baseline = check(await timed('psql', ['-X', '-q', '-d', b.url, '-c', copy]), 'psql COPY');
        if (baseline.stdoutLines !== expected) throw new Error(`COPY printed ${baseline.stdoutLines} lines, expected ${expected}`);
        base.push(baseline.seconds);
      }
      const runs = b.repeat > 1 ? `; median of ${b.repeat}` : '';
      return result(this.name, median(cli), median(base), rss || null, `${expected} rows${runs}; baseline psql COPY TO STDOUT`);
    },
  };
}

/** `ctl` on the embedded database (no DATABASE_URL), its data in `dataDir`. */
function embeddedCtl(dataDir: string, args: readonly string[]): Promise<Run> {
  return timed(process.execPath, [CTL, ...args], {
    probe: true,
    env: { DATABASE_URL: undefined, CTL_DATA_DIR: dataDir, CTL_ENV_FILE: '', NO_COLOR: '1', USER: 'bench' },
  });
}

const PGLITE_FLOOR = path.join(__dirname, 'pglite-floor.js');

/**
 * `show alice` by hand: her row and the counts `show` prints, in one statement (the floor's query;
 * the PostgreSQL cases' baselines are the same change as one hand-written statement too).
 */
const SHOW_BY_HAND = `SELECT u.*,
  (SELECT count(*) FROM activities WHERE actor_id = u.id) AS activities,
  (SELECT count(*) FROM follows WHERE following_id = u.id) AS followers,
  (SELECT count(*) FROM follows WHERE follower_id = u.id) AS following,
  (SELECT count(*) FROM tokens WHERE user_id = u.id AND kind IN ('access', 'refresh', 'authorization')
     AND revoked_at IS NULL AND used_at IS NULL AND (expires_at IS NULL OR expires_at > now())) AS sessions,
  (SELECT count(*) FROM tokens WHERE user_id = u.id AND kind = 'refresh'
     AND revoked_at IS NULL AND used_at IS NULL AND (expires_at IS NULL OR expires_at > now())) AS refresh_tokens
FROM users u WHERE lower(u.nickname) = 'alice'`;

/**
 * The embedded database against PGlite's own floor, medians of BENCH_COLD_RUNS: `show` on an
 * existing data directory against loading PGlite, opening that directory, one query and closing;
 * the first command on a new directory against PGlite's own initdb (the same on a new directory).
 * Each against two floors: PGlite started as ctl starts it (what ctl adds to PGlite), and PGlite
 * as it comes with `SELECT 1` (`stock`: the floor issue 17 measured, which ctl's settings beat).
 */
function embeddedShow(stock: boolean): CaseDef {
  return {
    name: stock ? 'embedded: show alice vs stock PGlite open-SELECT 1-close' : 'embedded: show alice vs PGlite open-query-close',
    verb: 'show',
    async run(b) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'userctl-bench-embedded-'));
      try {
        check(await embeddedCtl(dir, ['user', 'new', 'alice', 'alice@example.com', '-y']), 'ctl user new (embedded)');
        const cli: number[] = [];
        const floor: number[] = [];
        let rss = 0;
        let floorRss = 0;
        const floorArgs = stock ? [PGLITE_FLOOR, '--stock', path.join(dir, 'pgdata')] : [PGLITE_FLOOR, path.join(dir, 'pgdata'), SHOW_BY_HAND];
        for (let i = 0; i < b.coldRuns; i++) {
          const r = check(await embeddedCtl(dir, ['user', 'show', 'alice']), 'ctl user show (embedded)');
          cli.push(r.seconds);
          rss = Math.max(rss, r.peakRssMb ?? 0);
          const f = check(await timed(process.execPath, floorArgs, { probe: true }), 'PGlite floor');
          floor.push(f.seconds);
          floorRss = Math.max(floorRss, f.peakRssMb ?? 0);
        }
        const baseline = stock
          ? 'PGlite with no options: import, open, SELECT 1, close'
          : 'PGlite as ctl starts it: import, open, alice and her counts by hand, close';
        return result(this.name, median(cli), median(floor), rss || null, `median of ${b.coldRuns}; baseline ${baseline} (${floorRss.toFixed(0)} MB)`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function embeddedFirst(stock: boolean): CaseDef {
  return {
    name: stock ? 'embedded: first command on a new directory vs stock PGlite initdb' : 'embedded: first command on a new directory vs PGlite initdb',
    verb: 'count',
    async run(b) {
      const cli: number[] = [];
      const floor: number[] = [];
      let rss = 0;
      let floorRss = 0;
      const runs = Math.max(1, Math.min(b.coldRuns, 5));
      for (let i = 0; i < runs; i++) {
        const dirs = [fs.mkdtempSync(path.join(os.tmpdir(), 'userctl-bench-new-')), fs.mkdtempSync(path.join(os.tmpdir(), 'userctl-bench-initdb-'))];
        try {
          const r = check(await embeddedCtl(path.join(dirs[0], 'data'), ['user', 'count']), 'ctl user count (new embedded directory)');
          cli.push(r.seconds);
          rss = Math.max(rss, r.peakRssMb ?? 0);
          const floorArgs = [PGLITE_FLOOR, ...(stock ? ['--stock'] : []), path.join(dirs[1], 'pgdata')];
          const f = check(await timed(process.execPath, floorArgs, { probe: true }), 'PGlite initdb');
          floor.push(f.seconds);
          floorRss = Math.max(floorRss, f.peakRssMb ?? 0);
        } finally {
          for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
        }
      }
      const baseline = stock ? 'PGlite.create with no options' : 'PGlite.create as ctl starts it';
      return result(
        this.name,
        median(cli),
        median(floor),
        rss || null,
        `median of ${runs}; baseline ${baseline} on a new directory, SELECT 1, close (${floorRss.toFixed(0)} MB)`,
      );
    },
  };
}

const embeddedCases: CaseDef[] = [embeddedShow(false), embeddedShow(true), embeddedFirst(false), embeddedFirst(true)];

const CASES: CaseDef[] = [
  coldStart('ctl user --help (cold start)', null, ['user', '--help']),
  coldStart('ctl user show alice (cold start)', 'show', ['user', 'show', 'alice']),
  listCase('ndjson'),
  listCase('json'),
  listCase('csv'),
  {
    name: 'confirm_all',
    verb: 'confirm_all',
    async run(b) {
      const todo = await b.count(`SELECT count(*) AS n FROM users WHERE ${REGULAR} AND NOT confirmed`);
      const r = check(await b.ctl(['user', 'confirm_all', '-y', '-q']), 'confirm_all');
      const left = await b.count(`SELECT count(*) AS n FROM users WHERE ${REGULAR} AND NOT confirmed`);
      if (left !== 0) throw new Error(`confirm_all left ${left} unconfirmed users`);
      await b.db.query(`UPDATE users SET confirmed = false WHERE ${REGULAR} AND id % 2 = 0`);
      await seed.vacuum(b.db);
      const base = await b.psql(`
        WITH changed AS (
          UPDATE users SET confirmed = true, updated_at = now() WHERE ${REGULAR} AND NOT confirmed RETURNING id, nickname
        ), revoked AS (
          UPDATE tokens SET revoked_at = now() WHERE kind = 'email_confirmation' AND revoked_at IS NULL AND used_at IS NULL
            AND user_id IN (SELECT id FROM changed)
        )
        INSERT INTO audit_log (${AUDIT_COLUMNS})
        SELECT now(), 'bench', 'confirm_all', id, nickname, NULL, '{"confirmed":{"from":false,"to":true}}' FROM changed`);
      await seed.vacuum(b.db);
      return result(this.name, r.seconds, base, r.peakRssMb, `${todo} users${b.statementNote(b.statementSeconds.length - 1)}`);
    },
  },
  {
    name: 'unconfirm_all',
    verb: 'unconfirm_all',
    async run(b) {
      const todo = await b.count(`SELECT count(*) AS n FROM users WHERE ${REGULAR} AND confirmed`);
      const r = check(await b.ctl(['user', 'unconfirm_all', '-y', '-q']), 'unconfirm_all');
      const left = await b.count(`SELECT count(*) AS n FROM users WHERE ${REGULAR} AND confirmed`);
      if (left !== 0) throw new Error(`unconfirm_all left ${left} confirmed users`);
      await b.db.query(`UPDATE users SET confirmed = true WHERE ${REGULAR}`);
      await b.db.query(`DELETE FROM tokens WHERE kind = 'email_confirmation'`);
      await seed.vacuum(b.db);
      const base = await b.psql(`
        WITH changed AS (
          UPDATE users SET confirmed = false, updated_at = now() WHERE ${REGULAR} AND confirmed RETURNING id, nickname
        ), revoked AS (
          UPDATE tokens SET revoked_at = now() WHERE kind = 'email_confirmation' AND revoked_at IS NULL AND used_at IS NULL
            AND user_id IN (SELECT id FROM changed)
        ), issued AS (
          INSERT INTO tokens (kind, token_hash, user_id, expires_at, created_at)
          SELECT 'email_confirmation', encode(sha256(convert_to(gen_random_uuid()::text || id, 'UTF8')), 'hex'), id, now() + interval '7 days', now()
          FROM changed
        )
        INSERT INTO audit_log (${AUDIT_COLUMNS})
        SELECT now(), 'bench', 'unconfirm_all', id, nickname, NULL, '{"confirmed":{"from":true,"to":false},"confirmationTokenIssued":true}' FROM changed`);
      await seed.vacuum(b.db);
      return result(this.name, r.seconds, base, r.peakRssMb, `${todo} users, as many tokens${b.statementNote(b.statementSeconds.length - 1)}`);
    },
  },
  {
    name: `deactivate_all_from_instance (${seed.BIG_INSTANCE})`,
    verb: 'deactivate_all_from_instance',
    async run(b) {
      const active = `SELECT count(*) AS n FROM users WHERE instance = '${seed.BIG_INSTANCE}' AND active AND deleted_at IS NULL`;
      const todo = await b.count(active);
      return repeated(b, this.name, `${todo} users`, {
        async ctl() {
          const r = check(await b.ctl(['user', 'deactivate_all_from_instance', seed.BIG_INSTANCE, '-y', '-q']), 'deactivate_all_from_instance');
          const left = await b.count(active);
          if (left !== 0) throw new Error(`deactivate_all_from_instance left ${left} active users`);
          return r;
        },
        baseline: () =>
          b.psql(`
            WITH target AS (
              SELECT id, nickname FROM users WHERE instance = '${seed.BIG_INSTANCE}' AND active AND deleted_at IS NULL
            ), unfollowed AS (
              -- The local end as an EXISTS probe, not \`IN (SELECT id FROM users WHERE local)\`: that
              -- set is too big to hash, so inside an OR it ran as a subplan over every local user for
              -- each follow (416 s here instead of about one).
              DELETE FROM follows f
              WHERE (f.follower_id IN (SELECT id FROM target) AND EXISTS (SELECT 1 FROM users l WHERE l.id = f.following_id AND l.local))
                 OR (f.following_id IN (SELECT id FROM target) AND EXISTS (SELECT 1 FROM users l WHERE l.id = f.follower_id AND l.local))
            ), revoked AS (
              UPDATE tokens SET revoked_at = now() WHERE user_id IN (SELECT id FROM target)
                AND kind IN ('access', 'refresh', 'authorization') AND revoked_at IS NULL AND used_at IS NULL
            ), deactivated AS (
              UPDATE users SET active = false, updated_at = now() WHERE id IN (SELECT id FROM target)
            )
            INSERT INTO audit_log (${AUDIT_COLUMNS})
            SELECT now(), 'bench', 'deactivate_all_from_instance', id, nickname, NULL, '{"instance":"${seed.BIG_INSTANCE}","active":false}' FROM target`),
        restore: () => seed.restoreBig(b.db, b.sizes),
      });
    },
    restore: (b) => seed.restoreBig(b.db, b.sizes),
  },
  {
    name: 'delete_activities heavy',
    verb: 'delete_activities',
    async run(b) {
      const owned = `SELECT count(*) AS n FROM activities WHERE actor_id = ${seed.HEAVY_ID}`;
      const todo = await b.count(owned);
      return repeated(b, this.name, `${todo} activities`, {
        async ctl() {
          const r = check(await b.ctl(['user', 'delete_activities', 'heavy', '-y', '-q']), 'delete_activities');
          const left = await b.count(owned);
          if (left !== 0) throw new Error(`delete_activities left ${left} activities`);
          return r;
        },
        baseline: () =>
          b.psql(`
            WITH gone AS (DELETE FROM activities WHERE actor_id = ${seed.HEAVY_ID} RETURNING 1)
            INSERT INTO audit_log (${AUDIT_COLUMNS})
            SELECT now(), 'bench', 'delete_activities', ${seed.HEAVY_ID}, 'heavy', NULL, jsonb_build_object('activities', count(*)) FROM gone`),
        restore: () => seed.restoreHeavy(b.db, b.sizes),
      });
    },
    restore: (b) => seed.restoreHeavy(b.db, b.sizes),
  },
  {
    name: 'rm --purge heavy',
    verb: 'rm',
    async run(b) {
      const todo = await b.count(`SELECT count(*) AS n FROM activities WHERE actor_id = ${seed.HEAVY_ID}`);
      return repeated(b, this.name, `${todo} activities (cascade in the baseline)`, {
        async ctl() {
          const r = check(await b.ctl(['user', 'rm', 'heavy', '--purge', '-y', '-q']), 'rm --purge');
          const left = await b.count(
            `SELECT (SELECT count(*) FROM users WHERE id = ${seed.HEAVY_ID}) + (SELECT count(*) FROM activities WHERE actor_id = ${seed.HEAVY_ID}) AS n`,
          );
          if (left !== 0) throw new Error(`rm --purge left ${left} rows of heavy`);
          return r;
        },
        baseline: () =>
          b.psql(`
            WITH gone AS (DELETE FROM users WHERE id = ${seed.HEAVY_ID} RETURNING id, nickname)
            INSERT INTO audit_log (${AUDIT_COLUMNS})
            SELECT now(), 'bench', 'rm', id, nickname, NULL, '{"purge":true}' FROM gone`),
        restore: () => seed.restoreHeavy(b.db, b.sizes),
      });
    },
    restore: (b) => seed.restoreHeavy(b.db, b.sizes),
  },
  csvReaderCase,
  {
    name: 'import (users without passwords)',
    verb: 'import',
    async run(b) {
      const n = b.importUsers;
      const file = path.join(os.tmpdir(), `userctl-bench-import-${process.pid}.csv`);
      const out = fs.createWriteStream(file);
      out.write('nickname,email,name\n');
      for (let i = 1; i <= n; i++) {
        if (!out.write(`imp${i},imp${i}@import.example,Imported ${i}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
      await new Promise<void>((resolve, reject) => {
        out.once('error', reject);
        out.end(() => resolve());
      });
      // The same change by hand: COPY into a staging table, then users and their reset tokens.
      const script = path.join(os.tmpdir(), `userctl-bench-import-${process.pid}.sql`);
      fs.writeFileSync(
        script,
        [
          'BEGIN;',
          'CREATE TEMP TABLE stage (nickname text, email text, name text) ON COMMIT DROP;',
          `\\copy stage FROM '${file}' WITH (FORMAT csv, HEADER true)`,
          `WITH created AS (
             INSERT INTO users (nickname, email, name, local, confirmed) SELECT nickname, email, name, true, true FROM stage RETURNING id, nickname, email
           ), tokens AS (
             INSERT INTO tokens (kind, token_hash, user_id, expires_at)
             SELECT 'password_reset', encode(sha256(convert_to(gen_random_uuid()::text || id, 'UTF8')), 'hex'), id, now() + interval '1 day' FROM created
           )
           INSERT INTO audit_log (${AUDIT_COLUMNS})
           SELECT now(), 'bench', 'import', id, nickname, NULL,
                  jsonb_build_object('email', email, 'admin', false, 'moderator', false, 'confirmed', true, 'tags', '[]'::jsonb, 'passwordSet', false)
           FROM created;`,
          'COMMIT;',
        ].join('\n'),
      );
      const baseline = async () => {
        const run = check(await timed('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', b.url, '-f', script]), 'psql import baseline');
        const made = await b.count(`SELECT count(*) AS n FROM users WHERE email LIKE '%@import.example'`);
        if (made !== n) throw new Error(`the import baseline created ${made} users, expected ${n}`);
        return run.seconds;
      };
      const cleanup = async () => {
        await b.db.query(`DELETE FROM audit_log WHERE verb = 'import'`);
        await b.db.query(`DELETE FROM users WHERE email LIKE '%@import.example'`);
        await seed.vacuum(b.db);
      };
      try {
        // One untimed run first: the earlier cases pushed the users' indexes out of the cache,
        // and whichever side ran first paid for reading them back (ctl measured ~25% slower).
        await baseline();
        await cleanup();
        const r = check(await b.ctl(['user', 'import', file, '-q']), 'import');
        const made = await b.count(`SELECT count(*) AS n FROM users WHERE email LIKE '%@import.example'`);
        if (made !== n) throw new Error(`import created ${made} users, expected ${n}`);
        if (r.stdoutLines !== n) throw new Error(`import printed ${r.stdoutLines} links, expected ${n}`);
        await cleanup();
        const base = await baseline();
        return result(this.name, r.seconds, base, r.peakRssMb, `${n} users: ${Math.round(n / r.seconds)} users/s; baseline psql \\copy + INSERT`);
      } finally {
        fs.rmSync(file, { force: true });
        fs.rmSync(script, { force: true });
      }
    },
  },
  {
    name: 'console search (page)',
    verb: null,
    async run(b) {
      const m = await measureConsoleSearch(b.url, b.db, Math.max(5, b.repeat));
      return result(this.name, m.seconds, m.baselineSeconds, null, m.note);
    },
  },
];

function adminUrl(url: string): { admin: string; name: string } {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`BENCH_DATABASE_URL must name a plain database (letters, digits, _), got ${JSON.stringify(name)}`);
  u.pathname = '/postgres';
  return { admin: u.toString(), name };
}

async function freshDatabase(url: string): Promise<void> {
  const { admin, name } = adminUrl(url);
  const c = new Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const handle = await openDatabase({ databaseUrl: url, dataDir: '', lockWaitMs: 0, schema: 'none' });
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
}

async function dropDatabase(url: string): Promise<void> {
  const { admin, name } = adminUrl(url);
  const c = new Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

function fmt(x: number | null, digits: number, suffix = ''): string {
  return x === null ? '-' : `${x.toFixed(digits)}${suffix}`;
}

function table(outcomes: readonly Outcome[]): string {
  const rows = [['case', 'seconds', 'baseline', 'ratio', 'peak RSS', 'note']];
  for (const o of outcomes) rows.push([o.case, fmt(o.seconds, 3), fmt(o.baselineSeconds, 3), fmt(o.ratio, 2, 'x'), fmt(o.peakRssMb, 0, ' MB'), o.note]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const right = new Set([1, 2, 3, 4]);
  return rows
    .map((r) =>
      r
        .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function intListEnv(name: string, fallback: readonly number[], min: number): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return [...fallback];
  return raw.split(',').map((part) => {
    const n = Number(part.trim().replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must list whole numbers of at least ${min}, got ${JSON.stringify(raw)}`);
    return n;
  });
}

/** Runs `cases` and collects their outcomes; a failed case is reported and the next one runs. */
async function runCases(bench: Bench, cases: readonly CaseDef[], only: readonly string[], outcomes: Outcome[]): Promise<void> {
  for (const c of cases) {
    if (only.length > 0 && !only.some((o) => c.name.toLowerCase().includes(o))) continue;
    if (c.verb !== null && !verbExists(c.verb)) {
      log(`${c.name}: MISSING (no tasks/user/${c.verb}.ts yet)`);
      outcomes.push({ ...result(c.name, null, null, null), note: `missing: tasks/user/${c.verb}.ts does not exist` });
      continue;
    }
    log(`${c.name}: running`);
    try {
      const o = await c.run(bench);
      log(`${c.name}: ${fmt(o.seconds, 3)} s vs ${fmt(o.baselineSeconds, 3)} s (${fmt(o.ratio, 2, 'x')}), peak RSS ${fmt(o.peakRssMb, 0, ' MB')}`);
      outcomes.push(o);
    } catch (error) {
      await bench.cancelOthers().catch(() => undefined);
      log(`${c.name}: FAILED: ${(error as Error).message}`);
      if (c.restore) await c.restore(bench).then(() => seed.vacuum(bench.db));
      outcomes.push({ ...result(c.name, null, null, null), note: `failed: ${(error as Error).message.split('\n')[0]}`, failed: true });
    }
  }
}

/** Seeds a fresh database with `sizes`, runs the PostgreSQL cases on it, drops it (unless BENCH_KEEP). */
async function runSize(
  url: string,
  sizes: seed.Sizes,
  importUsers: number,
  settings: { coldRuns: number; repeat: number; timeoutMs: number; only: readonly string[] },
  outcomes: Outcome[],
): Promise<void> {
  await freshDatabase(url);
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query<{ server_version: string }>('SHOW server_version');
    log(`PostgreSQL ${rows[0].server_version}; seeding ${sizes.users} users, ${sizes.activities} activities`);
    await db.query('SET synchronous_commit = off');
    let t = Date.now();
    await seed.seedUsers(db, sizes);
    log(`users seeded in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    t = Date.now();
    await seed.seedFollows(db, sizes);
    await seed.seedActivities(db, sizes);
    await db.query('RESET synchronous_commit');
    await seed.vacuum(db);
    log(`follows and activities seeded in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const bench = new Bench(db, url, sizes, importUsers, settings.coldRuns, settings.repeat, settings.timeoutMs);
    await runCases(bench, CASES, settings.only, outcomes);
  } finally {
    await db.end();
    if (!process.env.BENCH_KEEP) await dropDatabase(url);
  }
}

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  // BENCH_SIZES=200000,1000000 runs every case at each size in one invocation; BENCH_USERS is
  // the one-size form. Activities default to as many as users.
  const userCounts = intListEnv('BENCH_SIZES', [intEnv('BENCH_USERS', 1_000_000, 100)], 100);
  const importCounts = intListEnv('BENCH_IMPORT_USERS', [100_000], 1);
  const coldRuns = intEnv('BENCH_COLD_RUNS', 10, 1);
  const repeat = intEnv('BENCH_REPEAT', 3, 1);
  const timeoutMs = intEnv('BENCH_CASE_TIMEOUT', 240, 1) * 1000;
  const url = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/userctl_bench';
  const only = (process.env.BENCH_CASES ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

  log(
    `sizes ${userCounts.join(', ')} users; ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const bySize: { users: number; outcomes: Outcome[] }[] = [];
  for (const [k, users] of userCounts.entries()) {
    const sizes: seed.Sizes = { users, activities: process.env.BENCH_ACTIVITIES ? intEnv('BENCH_ACTIVITIES', users, 1) : users };
    const outcomes: Outcome[] = [];
    await runSize(url, sizes, importCounts[Math.min(k, importCounts.length - 1)], { coldRuns, repeat, timeoutMs, only }, outcomes);
    bySize.push({ users, outcomes });
  }
  // The embedded cases do not depend on the server's data: once, in their own table.
  const embedded: Outcome[] = [];
  const none = new Bench(null as unknown as Client, url, { users: 0, activities: 0 }, 0, coldRuns, repeat, timeoutMs);
  await runCases(none, embeddedCases, only, embedded);
  if (embedded.length > 0) bySize.push({ users: 0, outcomes: embedded });
  log(
    `done; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  if (json) {
    const out = bySize.flatMap(({ users, outcomes }) =>
      outcomes.map((o) => ({
        size: users || null,
        case: o.case,
        seconds: o.seconds,
        baselineSeconds: o.baselineSeconds,
        ratio: o.ratio,
        peakRssMb: o.peakRssMb,
      })),
    );
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    for (const { users, outcomes } of bySize) {
      process.stdout.write(`\n${users ? `${users} users` : 'embedded database (PGlite)'}\n${table(outcomes)}\n`);
    }
  }
  return bySize.some(({ outcomes }) => outcomes.some((o) => o.failed)) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`bench failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
