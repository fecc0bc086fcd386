import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { countUsers, type UserCounts } from '../user/count';

export interface Metrics extends UserCounts {
  /** Live access tokens (sessions) that are neither revoked nor expired. */
  readonly sessions: number;
  /** Local, not deleted accounts with MFA on. */
  readonly mfaEnabled: number;
  /** Local, not deleted accounts whose email is not confirmed. */
  readonly unconfirmed: number;
}

/** The counts behind /metrics: `ctl user count`'s licence counting (one rule) plus sessions. */
export async function collectMetrics(db: Kysely<Database>, now: Date, activeWindowMs: number): Promise<Metrics> {
  const counts = await countUsers(db, new Date(now.getTime() - activeWindowMs));
  const extra = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom('tokens')
        .select(eb.fn.countAll<number>().as('n'))
        .where('kind', '=', 'access')
        .where('revoked_at', 'is', null)
        .where('used_at', 'is', null)
        .where((w) => w.or([w('expires_at', 'is', null), w('expires_at', '>', now)]))
        .as('sessions'),
      eb
        .selectFrom('users')
        .select(eb.fn.countAll<number>().as('n'))
        .where('local', '=', true)
        .where('deleted_at', 'is', null)
        .where('mfa_enabled', '=', true)
        .as('mfa'),
      eb
        .selectFrom('users')
        .select(eb.fn.countAll<number>().as('n'))
        .where('local', '=', true)
        .where('deleted_at', 'is', null)
        .where('confirmed', '=', false)
        .as('unconfirmed'),
    ])
    .executeTakeFirstOrThrow();
  return { ...counts, sessions: Number(extra.sessions), mfaEnabled: Number(extra.mfa), unconfirmed: Number(extra.unconfirmed) };
}
