// lib/tokens owns tokens and links: random tokens and their hashes (secrets.ts), issuing and
// revoking a user's tokens (this file), single-use links and their state (single-use.ts),
// email-confirmation links (confirmation.ts) and the URLs of the pages behind them (links.ts).
import type { TokenKind, Db } from '../db/schema';
import { hashToken, newToken } from './secrets';

export const SESSION_KINDS: readonly TokenKind[] = ['access', 'refresh', 'authorization'];

/**
 * The single-use links mailed to an address (set a password, confirm the email): each is good only
 * for the address and account state it was issued for, so changing the email or deactivating the
 * account revokes them (lib/user/set.ts, lib/user/activate.ts).
 */
export const LINK_KINDS: readonly TokenKind[] = ['password_reset', 'email_confirmation'];

export interface IssuedToken {
  readonly id: number;
  /** The raw token: returned once to be printed or mailed, never stored. */
  readonly token: string;
  readonly expiresAt: Date | null;
}

/** Stores the hash of a fresh token of `kind` for the user and returns the raw token. */
export async function issueToken(
  db: Db,
  args: { readonly kind: TokenKind; readonly userId: number; readonly now: Date; readonly ttlMs: number | null },
): Promise<IssuedToken> {
  const token = newToken();
  const expiresAt = args.ttlMs === null ? null : new Date(args.now.getTime() + args.ttlMs);
  const row = await db
    .insertInto('tokens')
    .values({ kind: args.kind, token_hash: hashToken(token), user_id: args.userId, expires_at: expiresAt, created_at: args.now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, token, expiresAt };
}

/** Revokes the user's live tokens of the given kinds; returns how many were live. */
export async function revokeTokens(db: Db, userId: number, kinds: readonly TokenKind[], now: Date): Promise<number> {
  const result = await db
    .updateTable('tokens')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('kind', 'in', kinds)
    .where('revoked_at', 'is', null)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Revokes the user's live single-use links (LINK_KINDS). */
export function revokeLinks(db: Db, userId: number, now: Date): Promise<number> {
  return revokeTokens(db, userId, LINK_KINDS, now);
}

/**
 * Ends the user's pending two-factor logins (two_factor_challenges: the password proved, the code
 * not yet): each would become a session with one right code, so whatever signs a user out ends
 * them too, in its transaction. Returns how many there were (expired ones included).
 */
export async function endTwoFactorChallenges(db: Db, userId: number): Promise<number> {
  const result = await db.deleteFrom('two_factor_challenges').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Revokes every session-like token (access, refresh, authorization) of the user and ends the
 * pending two-factor logins (endTwoFactorChallenges); returns how many tokens were live.
 */
export async function revokeSessions(db: Db, userId: number, now: Date): Promise<number> {
  const revoked = await revokeTokens(db, userId, SESSION_KINDS, now);
  await endTwoFactorChallenges(db, userId);
  return revoked;
}

/** Live session tokens (not revoked, not spent, not expired) of the user, of the given kinds, as a count subquery. */
export function liveSessionsCount(db: Db, userId: number, now: Date, kinds: readonly TokenKind[] = SESSION_KINDS) {
  return (
    db
      .selectFrom('tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .where('kind', 'in', kinds)
      .where('revoked_at', 'is', null)
      // A rotated refresh token is spent (used_at), not revoked: it is no session any more.
      .where('used_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
  );
}
