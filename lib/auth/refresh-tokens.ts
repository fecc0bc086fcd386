import { randomUUID } from 'node:crypto';
import type { Db, UserRow } from '../db/schema';
import type { LibContext } from '../lib-context';
import { writeAudit } from '../audit/audit';
import { hashToken } from '../tokens/secrets';
import { issueToken } from '../tokens/store';
import { accountRefusal } from './login';

/**
 * Refresh tokens as the OAuth 2.0 Security BCP asks for them: opaque, stored as a SHA-256 hash,
 * rotated on every use, and grouped in families. A login starts a family (its access token and a
 * refresh token); every refresh spends the refresh token presented and issues the next access and
 * refresh tokens of the same family. A spent refresh token presented again means two parties hold
 * it (the user and a thief), and nobody can tell which is which: the whole family is revoked.
 */

export interface RefreshSettings {
  /** CTL_SESSION_TTL: life of an access token. */
  readonly sessionTtlMs: number;
  /** CTL_REFRESH_TTL: life of a refresh token, counted again from every rotation. */
  readonly refreshTtlMs: number;
  readonly requireConfirmation: boolean;
}

export interface SessionPair {
  readonly token: string;
  readonly refreshToken: string;
  readonly refreshExpiresAt: Date;
  readonly user: UserRow;
}

/** Issues the first refresh token of a new family and puts the given access token into it. */
export async function startFamily(
  db: Db,
  accessTokenId: number,
  userId: number,
  now: Date,
  settings: RefreshSettings,
): Promise<{ refreshToken: string; expiresAt: Date }> {
  const family = randomUUID();
  await db.updateTable('tokens').set({ family }).where('id', '=', accessTokenId).execute();
  const refresh = await issueToken(db, { kind: 'refresh', userId, now, ttlMs: settings.refreshTtlMs });
  await db.updateTable('tokens').set({ family }).where('id', '=', refresh.id).execute();
  return { refreshToken: refresh.token, expiresAt: refresh.expiresAt! };
}

/**
 * A family for a session `login()` opened (lib/auth/login.ts issues the access token; this adds
 * its refresh token), in one transaction. The access token is found by its hash.
 */
export async function attachRefreshToken(
  ctx: LibContext,
  accessToken: string,
  userId: number,
  settings: RefreshSettings,
): Promise<{ refreshToken: string; expiresAt: Date }> {
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('tokens')
      .select('id')
      .where('token_hash', '=', hashToken(accessToken))
      .where('kind', '=', 'access')
      .executeTakeFirstOrThrow();
    return startFamily(trx, row.id, userId, ctx.now(), settings);
  });
}

/** Issues an access token and the first refresh token of a new family, inside the caller's transaction. */
export async function issueSessionPair(trx: Db, user: UserRow, now: Date, settings: RefreshSettings): Promise<Omit<SessionPair, 'user'>> {
  const access = await issueToken(trx, { kind: 'access', userId: user.id, now, ttlMs: settings.sessionTtlMs });
  const { refreshToken, expiresAt } = await startFamily(trx, access.id, user.id, now, settings);
  return { token: access.token, refreshToken, refreshExpiresAt: expiresAt };
}

export type RefreshOutcome =
  | ({ readonly status: 'rotated' } & SessionPair)
  /** Unknown, expired or revoked, or the account may no longer log in. */
  | { readonly status: 'invalid' }
  /** A spent token came back: its family was revoked. */
  | { readonly status: 'reused'; readonly revoked: number };

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{20,100}$/;

/**
 * Spends a refresh token and issues the next pair of its family, in one transaction with the token
 * row locked (two refreshes with one token: the second sees it spent). A spent token revokes every
 * live token of its family, access tokens included, and writes an audit row; that transaction
 * commits although the answer is a refusal.
 */
export async function rotateRefreshToken(ctx: LibContext, presented: string, settings: RefreshSettings): Promise<RefreshOutcome> {
  if (!TOKEN_SHAPE.test(presented)) return { status: 'invalid' };
  return ctx.db.transaction().execute(async (trx): Promise<RefreshOutcome> => {
    const now = ctx.now();
    const row = await trx
      .selectFrom('tokens')
      .selectAll()
      .where('token_hash', '=', hashToken(presented))
      .where('kind', '=', 'refresh')
      .forUpdate()
      .executeTakeFirst();
    if (!row || row.family === null) return { status: 'invalid' };
    if (row.used_at !== null) {
      const revoked = await revokeFamily(trx, row.family, now);
      const user = await trx.selectFrom('users').select(['id', 'nickname']).where('id', '=', row.user_id).executeTakeFirstOrThrow();
      await writeAudit(trx, ctx, { verb: 'refresh_reuse', targetUserId: user.id, targetNickname: user.nickname, details: { revoked } });
      return { status: 'reused', revoked };
    }
    if (row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now)) return { status: 'invalid' };
    const user = await trx.selectFrom('users').selectAll().where('id', '=', row.user_id).executeTakeFirstOrThrow();
    if (accountRefusal(user, settings)) return { status: 'invalid' };
    await trx.updateTable('tokens').set({ used_at: now }).where('id', '=', row.id).execute();
    // One live access token per family: the one this refresh replaces stops now.
    await trx
      .updateTable('tokens')
      .set({ revoked_at: now })
      .where('family', '=', row.family)
      .where('kind', '=', 'access')
      .where('revoked_at', 'is', null)
      .execute();
    // Every refresh leaves a spent token behind (kept for reuse detection while it could still
    // be presented); once expired, spent and revoked ones of the family are no use: gone.
    await trx
      .deleteFrom('tokens')
      .where('family', '=', row.family)
      .where('expires_at', '<=', now)
      .where((eb) => eb.or([eb('used_at', 'is not', null), eb('revoked_at', 'is not', null)]))
      .execute();
    const access = await issueToken(trx, { kind: 'access', userId: user.id, now, ttlMs: settings.sessionTtlMs });
    const refresh = await issueToken(trx, { kind: 'refresh', userId: user.id, now, ttlMs: settings.refreshTtlMs });
    await trx.updateTable('tokens').set({ family: row.family }).where('id', 'in', [access.id, refresh.id]).execute();
    return { status: 'rotated', token: access.token, refreshToken: refresh.token, refreshExpiresAt: refresh.expiresAt!, user };
  });
}

/** Revokes every live token (neither revoked nor spent) of a family; returns how many. */
export async function revokeFamily(db: Db, family: string, now: Date): Promise<number> {
  const result = await db
    .updateTable('tokens')
    .set({ revoked_at: now })
    .where('family', '=', family)
    .where('revoked_at', 'is', null)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Logout: the session's access token and, when it belongs to a family, the family's refresh
 * token too, so the cookie left in the browser is dead. Other sessions of the user stay.
 */
export async function endSession(db: Db, accessTokenId: number, now: Date): Promise<void> {
  const row = await db.selectFrom('tokens').select('family').where('id', '=', accessTokenId).executeTakeFirst();
  await db.updateTable('tokens').set({ revoked_at: now }).where('id', '=', accessTokenId).where('revoked_at', 'is', null).execute();
  if (row?.family) await revokeFamily(db, row.family, now);
}

/** Ends the family a refresh token belongs to (logout with only the cookie); unknown tokens are ignored. */
export async function endRefreshFamily(db: Db, presented: string, now: Date): Promise<void> {
  if (!TOKEN_SHAPE.test(presented)) return;
  const row = await db.selectFrom('tokens').select('family').where('token_hash', '=', hashToken(presented)).where('kind', '=', 'refresh').executeTakeFirst();
  if (row?.family) await revokeFamily(db, row.family, now);
}
