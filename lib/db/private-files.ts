import * as fs from 'node:fs';
import * as path from 'node:path';

/** Folder times are compared with some slack: some file systems keep them to the second or two. */
const SLACK_MS = 2000;

/**
 * Makes every folder under `dir` 0700 and every file 0600. PGlite creates its files world-readable
 * and -writable (0666, whatever the umask), and they hold password hashes and MFA secrets. The
 * data directory is 0700, so nobody else can reach them in place; this keeps them private when
 * the directory is copied or its mode loosened too.
 *
 * Files are looked at only in folders changed since the last pass began: a new file (or one
 * renamed into place) changes its folder's mtime. That moment is kept as the mtime of `marker`;
 * a run that never got here (killed) leaves it older, so the next pass covers that run's folders
 * too. Looking at every file on every close was ~1,100 lstat calls, ~12 ms of CPU on each
 * embedded command (issue 17).
 */
export function keepPrivate(dir: string, marker: string): void {
  const started = Date.now();
  let since: number;
  try {
    since = fs.statSync(marker).mtimeMs - SLACK_MS;
  } catch {
    since = 0;
  }
  tightenFolder(dir, since);
  fs.closeSync(fs.openSync(marker, 'a', 0o600));
  fs.utimesSync(marker, started / 1000, started / 1000);
}

function tightenFolder(dir: string, since: number): void {
  const stat = fs.lstatSync(dir);
  if (stat.mode & 0o077) fs.chmodSync(dir, 0o700);
  const changed = stat.mtimeMs >= since;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) tightenFolder(p, since);
    else if (changed && entry.isFile()) tighten(p);
  }
}

/**
 * chmod only what is looser than 0600: a chmod writes the inode (its ctime) where a stat only
 * reads it, ~1,100 inode writes through the file system's journal on a busy disk.
 */
function tighten(file: string): void {
  if (fs.lstatSync(file).mode & 0o077) fs.chmodSync(file, 0o600);
}
