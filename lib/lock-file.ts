import * as fs from 'node:fs';
import { UnavailableError } from './errors';

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
 * An exclusive lock file holding our pid. PGlite has no lock of its own and two processes on one
 * data directory lose rows, so the CLI holds this for its whole run. A lock left by a process that
 * died (SIGKILL, power loss) is taken over; a live holder is waited for up to `waitMs`.
 */
export async function acquireFileLock(path: string, waitMs: number, what: string): Promise<FileLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = fs.openSync(path, 'wx', 0o600);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new UnavailableError(`cannot create the lock file ${path}: ${(error as Error).message}`);
      }
      const holder = holderOf(path);
      if (holder === null || holder === process.pid || !isAlive(holder)) {
        // Stale: its owner is gone. Remove it and try again at once.
        try {
          fs.unlinkSync(path);
        } catch {
          /* another process took it over first */
        }
        continue;
      }
      if (Date.now() >= deadline) {
        throw new UnavailableError(`${what} is busy: another ctl process (pid ${holder}) is using it; try again when it has finished`);
      }
      await sleep(100);
    }
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
