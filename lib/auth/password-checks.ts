import { UnavailableError } from '../errors';
import type { HashPool } from './hash-pool';
import { MAX_PASSWORD_BYTES, rehashPassword, verifyPassword } from './passwords';

/** Too much work under way: HTTP 503 with Retry-After, never a 500 and never a wait without end. */
export class OverloadedError extends UnavailableError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/**
 * The password checks of logins, off the event loop. bcrypt on the main thread held every other
 * request for its whole run (a logged-in `GET /api/user` took 5.7 s during a burst of logins); on
 * the hash pool's worker threads it does not. Without a pool (a library caller, the tests of
 * login itself) bcryptjs runs here.
 */
export class PasswordChecks {
  constructor(private readonly pool: HashPool | null) {}

  /** How many checks run at once. */
  get size(): number {
    return this.pool?.size ?? 1;
  }

  /** bcrypt's compare, refusing (as a wrong password, after the same work) a password over 72 bytes. */
  async verify(password: string, hash: string): Promise<boolean> {
    if (!this.pool) return verifyPassword(password, hash);
    const tooLong = Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
    const ok = await this.pool.verify(tooLong ? '' : password, hash);
    return ok && !tooLong;
  }

  /**
   * A new hash for the login's own use, on the pool when there is one: the re-hash of a password
   * that has just matched (when CTL_BCRYPT_COST rose), or the stand-in hash for unknown logins.
   * No password rules (rehashPassword): a user whose password predates one must still get in.
   */
  async hash(password: string, cost: number): Promise<string> {
    if (!this.pool) return rehashPassword(password, cost);
    return this.pool.hash(password, cost);
  }
}
