import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';
import { sql } from 'kysely';
import { startCtl } from './helpers/proc';
import { tally } from './helpers/tally';

// The embedded database (PGlite) only: it has no lock of its own, and two processes on one data
// directory silently lose rows, so ctl holds CTL_DATA_DIR/ctl.lock for its whole run; these
// scenarios attack that lock, check the files' modes, and pin down PGlite's own text bugs.

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb?.destroy());

function runWorker(dir: string, holdMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'helpers', 'lock-worker.js'), dir, String(holdMs)], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

/** The most holders inside the lock at one time, from the workers' in/out log. */
function maxInside(dir: string): { entries: number; most: number } {
  let inside = 0;
  let most = 0;
  let entries = 0;
  for (const line of fs.readFileSync(path.join(dir, 'log'), 'utf8').trim().split('\n')) {
    if (line.startsWith('in ')) {
      entries += 1;
      inside += 1;
      most = Math.max(most, inside);
    } else inside -= 1;
  }
  return { entries, most };
}

describe('the data-directory lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-lock-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('20 processes racing for it: never two inside at once', async () => {
    const codes = await Promise.all(Array.from({ length: 20 }, () => runWorker(dir, 20)));
    tally('faults', 19);
    expect(codes).toEqual(Array(20).fill(0));
    expect(maxInside(dir)).toEqual({ entries: 20, most: 1 });
    expect(fs.readdirSync(dir)).toEqual(['log']);
  });

  test('a lock left by a killed process is taken over, by exactly one of 20 racing processes at a time', async () => {
    // A pid that is certainly not running: a child that has already exited.
    const dead = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['-e', '0']);
      child.on('close', () => resolve(child.pid!));
    });
    fs.writeFileSync(path.join(dir, 'ctl.lock'), `${dead}\n`);
    const codes = await Promise.all(Array.from({ length: 20 }, () => runWorker(dir, 20)));
    tally('faults', 20);
    expect(codes).toEqual(Array(20).fill(0));
    expect(maxInside(dir)).toEqual({ entries: 20, most: 1 });
    expect(fs.readdirSync(dir)).toEqual(['log']);
  });
});

describe('two ctl processes on one embedded database', () => {
  test('the second waits CTL_LOCK_WAIT_MS, then exits 6 "busy" naming the holder; the lock file is 0600 and holds its pid', async () => {
    const first = startCtl(tdb, ['user', 'new', 'alice', 'alice@example.com'], { tty: true });
    await first.waitFor(/Continue\? \[n\] $/);
    const lockFile = path.join(tdb.dataDir!, 'ctl.lock');
    const holder = Number(fs.readFileSync(lockFile, 'utf8').trim());
    expect(fs.statSync(lockFile).mode & 0o777).toBe(0o600);
    expect(() => process.kill(holder, 0)).not.toThrow();

    const t0 = Date.now();
    const second = await runCtl(tdb, ['user', 'list'], { env: { CTL_LOCK_WAIT_MS: '1500' } });
    tally('faults');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(second).toMatchObject({
      code: 6,
      stdout: '',
      stderr: `the embedded database in ${tdb.dataDir} is busy: another ctl process (pid ${holder}) is using it; try again when it has finished\n`,
    });

    // A third one with a longer wait gets in as soon as the first lets go, and sees its row.
    const third = startCtl(tdb, ['user', 'list', '--format', 'csv'], { env: { CTL_LOCK_WAIT_MS: '60000' } });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    first.type('y\n');
    const done = await first.done;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('User alice created');
    const listed = await third.done;
    expect(listed.code).toBe(0);
    expect(listed.ms).toBeGreaterThanOrEqual(1000);
    expect(listed.stdout.split('\r\n')[1].split(',')[1]).toBe('alice');
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  test('a SIGKILLed ctl leaves its lock behind; the next run takes it over at once', async () => {
    const victim = startCtl(tdb, ['user', 'new', 'bob', 'bob@example.com'], { tty: true });
    await victim.waitFor(/Continue\? \[n\] $/);
    const lockFile = path.join(tdb.dataDir!, 'ctl.lock');
    const holder = Number(fs.readFileSync(lockFile, 'utf8').trim());
    process.kill(holder, 'SIGKILL');
    tally('faults');
    await victim.done;
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(holder));
    const t0 = Date.now();
    const next = await runCtl(tdb, ['user', 'new', 'bob', 'bob@example.com', '-y', '--json'], { env: { CTL_LOCK_WAIT_MS: '0' } });
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ nickname: 'bob' });
    expect(Date.now() - t0).toBeLessThan(20000);
    expect(fs.existsSync(lockFile)).toBe(false);
  });
});

describe('files of the embedded database', () => {
  test('the data directory and every folder in it are 0700, every file 0600 (they hold password hashes and MFA secrets)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-perm-'));
    const dataDir = path.join(dir, 'data');
    try {
      const r = await runCtl(null, ['user', 'new', 'carol', 'carol@example.com', '-y'], { env: { CTL_DATA_DIR: dataDir } });
      expect(r.code).toBe(0);
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      const loose: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          const mode = fs.statSync(p).mode & 0o777;
          if (e.isDirectory()) {
            if (mode !== 0o700) loose.push(`${mode.toString(8)} ${path.relative(dataDir, p)}/`);
            walk(p);
          } else if (mode !== 0o600) loose.push(`${mode.toString(8)} ${path.relative(dataDir, p)}`);
        }
      };
      walk(dataDir);
      expect(loose.slice(0, 5)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('text through the embedded database', () => {
  test('a lone UTF-16 surrogate in a parameter is stored as U+FFFD, as on a server (PGlite alone would fail the statement)', async () => {
    await tdb.withDb(async ({ db }) => {
      const { rows } = await sql<{ v: string }>`SELECT ${'\ud800\u202e\udf64\u33f9'}::text AS v`.execute(db);
      expect(rows[0].v).toBe('\ufffd\u202e\ufffd\u33f9');
    });
    tally('inputs');
  });

  // PGlite 0.5.16 bug, not fixed here: its protocol reader decodes text with a TextDecoder that
  // drops a leading byte-order mark, so a value starting with U+FEFF is stored whole but reads back
  // without it (a server returns it). Remove `.failing` when a PGlite release fixes it.
  test.failing('a value starting with U+FEFF reads back byte for byte', async () => {
    await tdb.withDb(async ({ db }) => {
      const { rows } = await sql<{
        v: string;
        hex: string;
      }>`SELECT ${'\ufeffbom'}::text AS v, encode(convert_to(${'\ufeffbom'}::text, 'UTF8'), 'hex') AS hex`.execute(db);
      expect(rows[0].hex).toBe('efbbbf626f6d');
      expect(rows[0].v).toBe('\ufeffbom');
    });
  });
});
