import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Config } from '../config';
import type { LibContext } from '../lib-context';
import type { Database } from '../db/schema';
import type { Authenticated, LoginThrottle } from '../auth/login';
import type { RateLimiter } from '../auth/limits';
import type { HashPool } from '../auth/hash-pool';
import type { Mailer } from '../mail/mailer';
import type { AfterAnswer } from './after-answer';

// What app.ts builds and every route module is handed. Its own module, so routes depend on it and
// not on app.ts, which imports them (no import cycle).

/** What every route module is handed: settings, clock and the limiters (their counts are in the database). */
export interface AppState {
  readonly config: Config;
  readonly now: () => Date;
  readonly log: (line: string) => void;
  readonly mailer: Mailer | null;
  readonly loginThrottle: LoginThrottle;
  /** bcrypt off the event loop: logins' passwords (through loginThrottle) and backup codes. */
  readonly hashPool: HashPool;
  /** Verification emails: one per address per CTL_VERIFY_RESEND_INTERVAL ... */
  readonly resendPerEmail: RateLimiter;
  /** ... and a few per client address per hour, so no one can mail-bomb through many addresses. */
  readonly resendPerAddress: RateLimiter;
  /** The database for this request (opened on first use, let go when the response is sent). */
  db(request: FastifyRequest): Promise<Kysely<Database>>;
  /** A LibContext for this request: the actor is `app:<nickname>` once authenticated, else `app`. */
  lib(request: FastifyRequest): Promise<LibContext>;
  /**
   * Runs `work` after the answer to this request has been sent, with a LibContext (and a database
   * lease) of its own (after-answer.ts): for what must not make the answer slower for some
   * requests than for others. Closing the server waits for it; a failure is logged.
   */
  afterAnswer(request: FastifyRequest, reply: FastifyReply, work: (ctx: LibContext) => Promise<void>): void;
  /**
   * onRequest hook: 401 with the reference's body unless a live bearer token is presented. A
   * function property, not a method: routes pass it on detached (`{ onRequest: state.requireAuth }`).
   */
  readonly requireAuth: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The work routes do after their answers; `idle()` waits for it (closing does). */
    readonly afterAnswer: AfterAnswer;
  }
  interface FastifyRequest {
    auth: Authenticated | null;
    leasedDb: Kysely<Database> | null;
  }
}
