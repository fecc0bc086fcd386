import { UnavailableError } from '../errors';
import type { HashPool } from './hash-pool';
import { MAX_PASSWORD_BYTES, checkPassword, hashPassword, verifyPassword } from './passwords';

/** Too much work queued: HTTP 503 with Retry-After, never a 500 and never a wait without end. */
export class OverloadedError extends UnavailableError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/**
 * The password checks of logins, off the event loop and bounded. bcrypt on the main thread held
 * every other request for its whole run (a logged-in `GET /api/user` took 5.7 s during a burst of
 * logins); on the hash pool's worker threads it does not. At most `maxPending` checks run or wait
 * at once: past that a login is refused with 503 before its password is read, so a burst gets a
 * quick answer instead of a queue that outlives the client's patience.
 */
export class PasswordChecks {
  private pending = 0;

  constructor(
    private readonly pool: HashPool | null,
    readonly maxPending: number,
  ) {}

  /** Refuses now (503) when the queue is full, so the caller can give back what it counted. */
  private enter(): void {
    if (this.pending >= this.maxPending) {
      // About how long the queue ahead takes to drain, at ~250 ms a check (cost 12) per worker.
      const ms = Math.ceil((this.pending * 250) / Math.max(1, this.pool?.size ?? 1));
      throw new OverloadedError('The server is busy; try again shortly', Math.max(1000, ms));
    }
    this.pending += 1;
  }

  /** bcrypt's compare, refusing (as a wrong password, after the same work) a password over 72 bytes. */
  async verify(password: string, hash: string): Promise<boolean> {
    this.enter();
    try {
      if (!this.pool) return await verifyPassword(password, hash);
      const tooLong = Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
      const ok = await this.pool.verify(tooLong ? '' : password, hash);
      return ok && !tooLong;
    } finally {
      this.pending -= 1;
    }
  }

  /** A new hash (the re-hash at login when CTL_BCRYPT_COST rose), on the pool when there is one. */
  async hash(password: string, cost: number): Promise<string> {
    if (!this.pool) return hashPassword(password, cost);
    // The pool hashes whatever it is given: the rules of a password are checked here.
    checkPassword(password);
    return this.pool.hash(password, cost);
  }
}
