import type { Kysely } from 'kysely';
import type { AuthProvider, Database } from '../db/schema';
import { requireUser, type UserRef } from './find';
import { toUserJson, type UserJson } from './present';
import { liveSessionsCount } from '../tokens/store';

export interface UserDetails extends UserJson {
  /** How the account signs in: 'local' (a password here) or the identity provider (issue 16). */
  readonly provider: AuthProvider;
  readonly counts: {
    readonly activities: number;
    readonly followers: number;
    readonly following: number;
    readonly activeSessions: number;
    /** Live refresh tokens (one per signed-in browser of LibreChat's client), a part of activeSessions. */
    readonly refreshTokens: number;
    readonly tags: number;
  };
}

/** Every field of a user plus what it owns (LibreChat's user-stats). Soft-deleted users are shown too. */
export async function showUser(db: Kysely<Database>, ref: UserRef, now: Date): Promise<UserDetails> {
  const row = await requireUser(db, ref, { includeDeleted: true });
  // Everything it owns in one round trip: `show` is the verb operators run most.
  const counts = await db
    .selectNoFrom((eb) => [
      eb.selectFrom('activities').select(eb.fn.countAll<number>().as('n')).where('actor_id', '=', row.id).as('activities'),
      eb.selectFrom('follows').select(eb.fn.countAll<number>().as('n')).where('following_id', '=', row.id).as('followers'),
      eb.selectFrom('follows').select(eb.fn.countAll<number>().as('n')).where('follower_id', '=', row.id).as('following'),
      liveSessionsCount(db, row.id, now).as('sessions'),
      liveSessionsCount(db, row.id, now, ['refresh']).as('refreshTokens'),
    ])
    .executeTakeFirstOrThrow();
  return {
    ...toUserJson(row),
    provider: row.provider,
    counts: {
      activities: Number(counts.activities),
      followers: Number(counts.followers),
      following: Number(counts.following),
      activeSessions: Number(counts.sessions),
      refreshTokens: Number(counts.refreshTokens),
      tags: row.tags.length,
    },
  };
}
