import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { sql } from 'kysely';
import { useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { ctlEnv, useTempDir } from '../../helpers/cli';
import { main } from '../../../tasks/runner/main';
import type { Io } from '../../../tasks/runner/io';
import { SETTLED_PAGE } from '../../../tasks/user/import';
import { SettledReader } from '../../../lib/import/import';

// The rows `import` settles at its check (skipped: already there; failed) are as many as the
// file's rows on a re-run or with a bad column. They stay packed in lib/import and the task reads
// them as the created rows pass them: at no time does it hold more than a page of them as objects,
// in any format that streams its rows, and table format reads only the problems it lists.

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

let dir: string;
useTempDir('userctl-import-settled-', (d) => (dir = d));

const EXISTING = 10400;
const BAD_EVERY = 200; // 52 rows with an invalid email, more than table format lists

/** Line 2 is new, the rest already exist (or are invalid), but for one more new row half-way. */
function rerunFile(): { file: string; expected: string[] } {
  const lines = ['nickname,email', 'fresh,fresh@example.com'];
  const expected = ['2 created'];
  for (let i = 1; i <= EXISTING; i++) {
    if (i === EXISTING / 2) {
      lines.push('mid,mid@example.com');
      expected.push(`${lines.length} created`);
    }
    lines.push(i % BAD_EVERY === 0 ? `u${i},u${i}@` : `u${i},u${i}@example.com`);
    expected.push(`${lines.length} ${i % BAD_EVERY === 0 ? 'failed' : 'skipped'}`);
  }
  const file = path.join(dir, 'rerun.csv');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return { file, expected };
}

/**
 * Runs `ctl` in-process, counting the settled rows lib/import hands over (SettledReader.take) and
 * those written to stdout: the rows held as objects are those handed over and not written yet.
 */
async function importCounting(args: string[]) {
  const spy = jest.spyOn(SettledReader.prototype, 'take');
  const taken = () => spy.mock.results.reduce((n, r) => n + (r.value as unknown[]).length, 0);
  let out = '';
  let written = 0;
  let mostHeld = 0;
  const stdout = new (class extends Writable {
    override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
      const text = chunk.toString();
      out += text;
      mostHeld = Math.max(mostHeld, taken() - written);
      written += (text.match(/skipped|failed/g) ?? []).length;
      done();
    }
  })();
  let err = '';
  const stderr = new (class extends Writable {
    override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
      err += chunk.toString();
      done();
    }
  })();
  const stdin = new PassThrough();
  stdin.end('');
  const io: Io = { stdin, stdout, stderr, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false, columns: null };
  try {
    const code = await main(args, io, ctlEnv(tdb), new AbortController().signal, tdb.openDatabase);
    mostHeld = Math.max(mostHeld, taken() - written);
    return { code, out, err, taken: taken(), mostHeld };
  } finally {
    spy.mockRestore();
  }
}

beforeEach(async () => {
  await tdb.withDb(({ db }) =>
    sql`INSERT INTO users (nickname, email, name) SELECT 'u' || i, 'u' || i || '@example.com', 'u' || i FROM generate_series(1, ${EXISTING}) AS i`.execute(db),
  );
});

test('a re-run of a large file: NDJSON and CSV hold a page of settled rows at most, and still give every row in order', async () => {
  const { file, expected } = rerunFile();
  const nd = await importCounting(['user', 'import', file, '--continue-on-error', '--batch-size', '1', '--skip-email', '--format', 'ndjson']);
  expect(nd.code).toBe(7);
  const rows = nd.out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { line: number; status: string });
  expect(rows.map((r) => `${r.line} ${r.status}`)).toEqual(expected);
  // Each settled row is unpacked once, and no more than a page of them waits to be written.
  expect(nd.taken).toBe(EXISTING);
  expect(nd.mostHeld).toBeLessThanOrEqual(SETTLED_PAGE);
  expect(EXISTING / 2).toBeGreaterThan(SETTLED_PAGE); // more settled rows before 'mid', and after it, than a page

  await tdb.withDb(({ db }) => db.deleteFrom('users').where('nickname', 'in', ['fresh', 'mid']).execute());
  const csv = await importCounting(['user', 'import', file, '--continue-on-error', '--batch-size', '1', '--skip-email', '--format', 'csv']);
  expect(csv.code).toBe(7);
  const lines = csv.out.trimEnd().split('\r\n');
  expect(lines[0]).toBe('line,status,nickname,email,id,passwordResetUrl,mailed,error');
  expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(' '))).toEqual(expected);
  expect([csv.taken, csv.mostHeld <= SETTLED_PAGE]).toEqual([EXISTING, true]);
});

test('a re-run refused for its problems writes the settled rows a page at a time; table format unpacks only the problems it lists', async () => {
  const { file } = rerunFile();
  const nd = await importCounting(['user', 'import', file, '--format', 'ndjson']);
  expect(nd.code).toBe(2);
  expect(nd.out.trimEnd().split('\n')).toHaveLength(EXISTING);
  expect([nd.taken, nd.mostHeld <= SETTLED_PAGE]).toEqual([EXISTING, true]);

  const table = await importCounting(['user', 'import', file, '--continue-on-error', '--skip-email']);
  expect(table.code).toBe(7);
  expect(table.err).toContain(`line ${2 + BAD_EVERY}: invalid email "u${BAD_EVERY}@"\n`);
  expect(table.err).toContain('... and 2 more rows with problems (--format ndjson lists every row)\n');
  expect(table.out).toContain(`Created: 2, Skipped: ${EXISTING - EXISTING / BAD_EVERY}, Failed: ${EXISTING / BAD_EVERY}\n`);
  expect(table.taken).toBe(50);
});
