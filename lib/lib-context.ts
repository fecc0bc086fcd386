import type { Kysely } from 'kysely';
import type { Database } from './db/schema';

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
