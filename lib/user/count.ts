import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema';

export interface UserCounts {
  /** Local accounts that are not soft-deleted, deactivated ones included: what holds a licence. */
  readonly total: number;
  /** Of those, the ones that logged in at or after `activeSince`. */
  readonly activeInWindow: number;
  readonly activeSince: Date;
  /** Of `total`, the deactivated (banned) ones. */
  readonly deactivated: number;
  /** Soft-deleted local accounts still inside the retention window (not in `total`). */
  readonly deleted: number;
}

/**
 * Overleaf's licence counting in one statement: total users and users active in the window (by
 * last login), for a monitoring job. Remote accounts are never counted.
 */
export async function countUsers(db: Kysely<Database>, activeSince: Date): Promise<UserCounts> {
  const { rows } = await sql<{ total: number; active: number; deactivated: number; deleted: number }>`
    SELECT
      count(*) FILTER (WHERE deleted_at IS NULL)::int AS total,
      count(*) FILTER (WHERE deleted_at IS NULL AND last_login_at >= ${activeSince})::int AS active,
      count(*) FILTER (WHERE deleted_at IS NULL AND NOT active)::int AS deactivated,
      count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS deleted
    FROM users
    WHERE local`.execute(db);
  const r = rows[0];
  return { total: Number(r.total), activeInWindow: Number(r.active), activeSince, deactivated: Number(r.deactivated), deleted: Number(r.deleted) };
}
