import * as fs from 'node:fs';
import * as path from 'node:path';
import { keepPrivate } from '../../../lib/db/private-files';
import { useTempDir } from '../../helpers/cli';

// The embedded database's files are made private after each run, looking file by file only in
// the folders that changed since the last pass (lib/db/private-files.ts).

let dir = '';
useTempDir('ctl-private-', (d) => (dir = d));

const modeOf = (p: string) => fs.statSync(p).mode & 0o777;
const hourAgo = () => (Date.now() - 3600e3) / 1000;

function looseTree(): { data: string; marker: string } {
  const data = path.join(dir, 'pgdata');
  fs.mkdirSync(path.join(data, 'base', '5'), { recursive: true, mode: 0o755 });
  for (const f of ['PG_VERSION', 'base/5/1259', 'base/5/1260']) {
    fs.writeFileSync(path.join(data, f), 'x');
    fs.chmodSync(path.join(data, f), 0o666);
  }
  return { data, marker: path.join(dir, 'modes-checked') };
}

test('a first pass (no marker yet) makes every folder 0700 and every file 0600, and leaves the marker, 0600', () => {
  const { data, marker } = looseTree();
  keepPrivate(data, marker);
  expect([data, path.join(data, 'base'), path.join(data, 'base', '5')].map(modeOf)).toEqual([0o700, 0o700, 0o700]);
  expect(['PG_VERSION', 'base/5/1259', 'base/5/1260'].map((f) => modeOf(path.join(data, f)))).toEqual([0o600, 0o600, 0o600]);
  expect(modeOf(marker)).toBe(0o600);
});

test('a file made since the last pass is tightened; a folder unchanged since then is not read file by file', () => {
  const { data, marker } = looseTree();
  keepPrivate(data, marker);
  // A folder nothing was added to since the pass (its mtime before the marker's).
  fs.chmodSync(path.join(data, 'base', '5', '1259'), 0o644);
  fs.utimesSync(path.join(data, 'base', '5'), hourAgo(), hourAgo());
  // A file PGlite made since: its folder's mtime is now.
  fs.writeFileSync(path.join(data, 'PG_NEW'), 'x');
  fs.chmodSync(path.join(data, 'PG_NEW'), 0o666);
  keepPrivate(data, marker);
  expect(modeOf(path.join(data, 'PG_NEW'))).toBe(0o600);
  expect(modeOf(path.join(data, 'base', '5', '1259'))).toBe(0o644);
});

test('a run killed before its pass leaves the marker old, so the next pass covers what that run made', () => {
  const { data, marker } = looseTree();
  keepPrivate(data, marker);
  fs.utimesSync(marker, hourAgo(), hourAgo());
  fs.writeFileSync(path.join(data, 'base', '5', '1261'), 'x');
  fs.chmodSync(path.join(data, 'base', '5', '1261'), 0o666);
  keepPrivate(data, marker);
  expect(modeOf(path.join(data, 'base', '5', '1261'))).toBe(0o600);
  expect(fs.statSync(marker).mtimeMs).toBeGreaterThan(Date.now() - 60e3);
});
