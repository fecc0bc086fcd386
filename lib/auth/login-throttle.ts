import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { RefusedError } from '../errors';
import { countOf, forgiveUpTo, mark, releaseAll, takeAll, type LimitRule, type Slot, type Want } from './limits';
import { OverloadedError, PasswordChecks } from './password-checks';

/** Too many attempts: HTTP 429 with Retry-After. */
export class RateLimitedError extends RefusedError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** The account back-off's first wait; it doubles with each further failure. */
export const ACCOUNT_BACKOFF_BASE_MS = 1000;
/** How long the account back-off remembers failures (a success forgives them sooner). */
export const ACCOUNT_BACKOFF_MEMORY_MS = 24 * 3600e3;
/** How long an address where the account logged in stays exempt from the account back-off. */
export const KNOWN_ADDRESS_MS = 30 * 86400e3;

export interface LoginThrottleOptions {
  /** CTL_LOGIN_MAX_FAILURES: per account and address in the window; also the failures (any address) before the account back-off. */
  readonly maxPerAccount: number;
  /** CTL_LOGIN_MAX_FAILURES_PER_ADDRESS: per client address in the window, whatever the login. */
  readonly maxPerAddress: number;
  /** CTL_LOGIN_WINDOW; also the longest wait of the account back-off. */
  readonly windowMs: number;
  /** Where passwords are checked (the hash pool); bcryptjs on this thread without one. */
  readonly passwords?: PasswordChecks;
  /**
   * Logins hashing (the password check, a re-hash, a backup code's compares; running or queued) in
   * this process at most; past that 503 with Retry-After. Default: no bound.
   */
  readonly maxActive?: number;
  /** Logins using the database at once; the rest wait their turn without holding a connection. Default: no bound. */
  readonly databaseLanes?: number;
}

/** Lets `size` callers run at once; the others wait in order, holding nothing. */
class Lanes {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

/** What one login attempt counted: given back when it proves the password, forgiven on success. */
export interface LoginSlots {
  readonly address: Slot;
  readonly account: readonly Slot[];
}

/**
 * The lock-out policy of login, kept in the database (lib/auth/limits.ts) so every instance
 * enforces it once. An attempt is counted, before its password is read, under:
 * - its client address: CTL_LOGIN_MAX_FAILURES_PER_ADDRESS in CTL_LOGIN_WINDOW, whatever the login;
 * - its account from its address: CTL_LOGIN_MAX_FAILURES in the window. Guessing from one place
 *   stops there, and the owner, elsewhere, is not locked out by it;
 * - its account from any address, unless the account logged in from this address in the last 30
 *   days: after CTL_LOGIN_MAX_FAILURES failures (remembered 24 h) each further attempt waits 1 s,
 *   2 s, 4 s … after the last, at most CTL_LOGIN_WINDOW. Guessing spread over many addresses stays
 *   a trickle (about a hundred a day at the default window), while the owner at an address they
 *   used before is never slowed by it.
 * The account is its id once the login names one (so `alice` and `alice@example.com` share the
 * count), else the typed login, lower-cased.
 */
export class LoginThrottle {
  readonly perAddress: LimitRule;
  readonly perAccountAddress: LimitRule;
  readonly perAccount: LimitRule;
  readonly knownAddress: LimitRule = { name: 'login-known', limit: 1, windowMs: KNOWN_ADDRESS_MS };
  readonly passwords: PasswordChecks;
  private readonly maxActive: number;
  private active = 0;
  private readonly lanes: Lanes;

  constructor(opts: LoginThrottleOptions) {
    this.maxActive = opts.maxActive ?? Infinity;
    this.lanes = new Lanes(opts.databaseLanes ?? Infinity);
    this.perAddress = { name: 'login-address', limit: opts.maxPerAddress, windowMs: opts.windowMs };
    this.perAccountAddress = { name: 'login-account-address', limit: opts.maxPerAccount, windowMs: opts.windowMs };
    this.perAccount = {
      name: 'login-account',
      limit: opts.maxPerAccount,
      windowMs: Math.max(ACCOUNT_BACKOFF_MEMORY_MS, opts.windowMs),
      backoff: { baseMs: ACCOUNT_BACKOFF_BASE_MS, maxMs: opts.windowMs },
    };
    this.passwords = opts.passwords ?? new PasswordChecks(null);
  }

  /**
   * Admits one login's hashing, or refuses it with 503 when `maxActive` are under way: a burst gets
   * quick answers instead of a queue that outlives the client's patience. Call the returned
   * function when the hashing is over (calling it twice is harmless).
   */
  admit(): () => void {
    if (this.active >= this.maxActive) {
      // About how long the logins ahead take, at ~250 ms of bcrypt each (cost 12, a password check)
      // per worker: a low guess when they carry backup codes (ten compares) or re-hashes.
      const ms = Math.ceil((this.active * 250) / this.passwords.size);
      throw new OverloadedError('The server is busy; try again shortly', Math.max(1000, ms));
    }
    this.active += 1;
    let done = false;
    return () => {
      if (!done) this.active -= 1;
      done = true;
    };
  }

  /**
   * Runs a login's database work in one of a few lanes: a burst of logins waits here, not in the
   * connection pool, so other requests (a logged-in `GET /api/user`) still find a connection.
   */
  inLane<T>(work: () => Promise<T>): Promise<T> {
    return this.lanes.run(work);
  }

  /** The account's key: its id when the login names one, else the login as typed. */
  static accountKey(login: string, userId: number | null): string {
    return userId === null ? `a:${login.toLowerCase()}` : `u:${userId}`;
  }

  /** Counts an attempt under every rule that applies, or refuses it (429) counting nothing. */
  async take(
    db: Kysely<Database>,
    attempt: { readonly address: string; readonly accountKey: string; readonly userId: number | null },
    now: number,
  ): Promise<LoginSlots> {
    const known = attempt.userId !== null && (await countOf(db, this.knownAddress, `${attempt.userId}|${attempt.address}`, now)) > 0;
    const wants: Want[] = [
      { rule: this.perAddress, key: attempt.address },
      { rule: this.perAccountAddress, key: `${attempt.accountKey}|${attempt.address}` },
      ...(known ? [] : [{ rule: this.perAccount, key: attempt.accountKey }]),
    ];
    const taken = await takeAll(db, wants, now);
    if ('wait' in taken) throw new RateLimitedError('Too many failed login attempts; try again later', taken.wait);
    return { address: taken[0], account: taken.slice(1) };
  }

  /** The attempt was not a failure (the password was right): nothing of it stays counted. */
  async giveBack(db: Kysely<Database>, slots: LoginSlots): Promise<void> {
    await releaseAll(db, [slots.address, ...slots.account]);
  }

  /**
   * A login succeeded: its address slot is given back, the account's failures counted before it
   * are forgiven (not those of attempts still running beside it), and the address is remembered
   * as one the account uses.
   */
  async succeeded(db: Kysely<Database>, slots: LoginSlots, userId: number, address: string, now: number): Promise<void> {
    await releaseAll(db, [slots.address]);
    await forgiveUpTo(db, slots.account);
    await mark(db, this.knownAddress, `${userId}|${address}`, now);
  }
}
