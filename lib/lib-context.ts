import type { Kysely } from 'kysely';
import type { Database, Db } from './db/schema';

/** What every domain function is given instead of reaching for globals. */
export interface LibContext {
  readonly db: Kysely<Database>;
  /** Injected so tests can move time (token expiry, retention windows). */
  readonly now: () => Date;
  /** Who is acting, for the audit log ($SUDO_USER, then $USER, or --actor). */
  readonly actor: string;
  /** Why, for the audit log (--reason). */
  readonly reason?: string | null;
}

/**
 * A single-user mutation's body, run once: in a dry run on the plain connection (the body writes
 * nothing then, and takes no row locks), otherwise in one transaction with its audit row.
 */
export function writeOnce<T>(ctx: LibContext, dryRun: boolean, work: (db: Db) => Promise<T>): Promise<T> {
  return dryRun ? work(ctx.db) : ctx.db.transaction().execute((trx) => work(trx));
}
