import type { Kysely } from 'kysely';
import type { DbHandle } from '../db/db';
import type { Database } from '../db/schema';

/**
 * The server's database, shared by its requests. On a real server it is a pool opened once. The
 * embedded PGlite database allows one process at a time (ctl's lock file), so there the server can
 * let go of it: `release()` closes it once no request uses it, and the next request opens it again.
 * With `idleReleaseMs`, that happens by itself after a quiet spell, so `ctl user ...` can run beside
 * `ctl serve` on the embedded database (waiting at most its CTL_LOCK_WAIT_MS for a busy server).
 */
export class ServerDatabase {
  private handle: Promise<DbHandle> | null = null;
  private users = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private drained: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly open: () => Promise<DbHandle>,
    private readonly idleReleaseMs: number | null = null,
  ) {}

  /** Takes the database for one request; pair with `done()`. */
  async acquire(): Promise<Kysely<Database>> {
    if (this.closed) throw new Error('the server database is closed');
    this.users += 1;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    try {
      if (!this.handle) {
        const opening = this.open();
        this.handle = opening;
        opening.catch(() => {
          if (this.handle === opening) this.handle = null;
        });
      }
      return (await this.handle).db;
    } catch (error) {
      this.done();
      throw error;
    }
  }

  done(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0) return;
    for (const resolve of this.drained.splice(0)) resolve();
    if (this.idleReleaseMs !== null && this.handle && !this.closed) {
      this.idleTimer = setTimeout(() => void this.release(), this.idleReleaseMs);
      this.idleTimer.unref();
    }
  }

  /** Waits for running requests, then closes the database (and frees PGlite's lock). */
  async release(): Promise<void> {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    while (this.users > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    const handle = this.handle;
    this.handle = null;
    if (handle) await (await handle.catch(() => null))?.close();
  }

  async close(): Promise<void> {
    await this.release();
    this.closed = true;
  }
}
