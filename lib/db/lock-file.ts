import * as fs from 'node:fs';
import { UnavailableError } from '../errors';

export interface FileLock {
  release(): void;
}

function holderOf(path: string): number | null {
  try {
    const pid = Number(fs.readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Creates the lock file already holding our pid, atomically: the pid goes into a private file that
 * is then hard-linked to `path` (which fails if `path` exists). Opening `path` with 'wx' and writing
 * afterwards would let a waiter read it empty in between, take it for stale, and delete a live lock.
 * Returns false when someone else holds it.
 */
function createLockFile(path: string): boolean {
  const mine = `${path}.${process.pid}`;
  try {
    fs.writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
    try {
      fs.linkSync(mine, path);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    }
    // No hard links on this file system: create in place (the old, racier way).
    const fd = fs.openSync(path, 'wx', 0o600);
    fs.writeSync(fd, `${process.pid}\n`);
    fs.closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new UnavailableError(`cannot create the lock file ${path}: ${(error as Error).message}`);
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

/**
 * Removes a lock whose owner is gone (SIGKILL, power loss). Moved aside first, atomically, and
 * checked: if a live process took the lock over between our look and the move, it is put back.
 */
function removeStale(path: string, stale: number | null): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    fs.renameSync(path, aside);
  } catch {
    return; // already gone: another waiter removed it first
  }
  const moved = holderOf(aside);
  if (moved !== null && moved !== stale && moved !== process.pid && isAlive(moved)) {
    try {
      fs.linkSync(aside, path);
    } catch {
      /* a third process locked meanwhile; the live holder keeps running on its own */
    }
  }
  fs.rmSync(aside, { force: true });
}

/**
 * An exclusive lock file holding our pid. PGlite has no lock of its own and two processes on one
 * data directory lose rows, so the CLI holds this for its whole run. A lock left by a process that
 * died (SIGKILL, power loss) is taken over; a live holder is waited for up to `waitMs`.
 */
export async function acquireFileLock(path: string, waitMs: number, what: string): Promise<FileLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (createLockFile(path)) break;
    const holder = holderOf(path);
    if (holder === null || holder === process.pid || !isAlive(holder)) {
      removeStale(path, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new UnavailableError(`${what} is busy: another ctl process (pid ${holder}) is using it; try again when it has finished`);
    }
    await sleep(100);
  }
  let held = true;
  const releaseOnExit = () => release();
  function release() {
    if (!held) return;
    held = false;
    process.removeListener('exit', releaseOnExit);
    if (holderOf(path) === process.pid) {
      try {
        fs.unlinkSync(path);
      } catch {
        /* already gone */
      }
    }
  }
  process.on('exit', releaseOnExit);
  return { release };
}
