import type { Transaction } from 'kysely';
import type { Database, TokenKind, Db } from '../db/schema';
import { ConflictError, NotFoundError } from '../errors';
import { hashToken } from './secrets';
import { revokeTokens } from './store';

/**
 * What a single-use link's token is worth right now. A revoked token reads as `used`: it can
 * never work again, which is all the page behind the link needs to say.
 */
export type SingleUseStatus = 'valid' | 'used' | 'expired' | 'unknown';

export interface SingleUseToken {
  readonly status: SingleUseStatus;
  readonly tokenId?: number;
  readonly userId?: number;
  readonly nickname?: string;
}

/** Tokens are 43 base64url characters; anything far from that shape cannot be one. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Looks a raw token up by its hash. A token whose account is gone (soft-deleted or purged) is
 * `unknown`: the link must not reveal that the account existed. A deactivated account's links read
 * as `used` (revoked): they work only in the state they were issued for, whichever way the account
 * was deactivated. `forUpdate` locks the token and
 * user rows until the transaction ends, so two uses of one token are decided one after the other.
 */
export async function inspectToken(db: Db, kind: TokenKind, token: string, now: Date, opts: { readonly forUpdate?: boolean } = {}): Promise<SingleUseToken> {
  if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return { status: 'unknown' };
  let query = db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .select(['tokens.id', 'tokens.user_id', 'tokens.expires_at', 'tokens.used_at', 'tokens.revoked_at', 'users.nickname', 'users.deleted_at', 'users.active'])
    .where('tokens.token_hash', '=', hashToken(token))
    .where('tokens.kind', '=', kind);
  if (opts.forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row || row.deleted_at !== null) return { status: 'unknown' };
  const base = { tokenId: row.id, userId: row.user_id, nickname: row.nickname };
  if (row.used_at !== null || row.revoked_at !== null || !row.active) return { status: 'used', ...base };
  if (row.expires_at !== null && row.expires_at.getTime() <= now.getTime()) return { status: 'expired', ...base };
  return { status: 'valid', ...base };
}

/** The error for a token that cannot be used: unknown is exit 3, used or expired exit 4. */
export function unusableTokenError(status: Exclude<SingleUseStatus, 'valid'>, what: string): NotFoundError | ConflictError {
  switch (status) {
    case 'unknown':
      return new NotFoundError(`unknown ${what} token`);
    case 'used':
      return new ConflictError(`this ${what} link was already used`);
    case 'expired':
      return new ConflictError(`this ${what} link has expired`);
  }
}

/**
 * Locks and checks a token for consumption; throws unusableTokenError's error otherwise. The
 * messages speak of the link, never of the token itself.
 */
export async function claimToken(
  trx: Transaction<Database>,
  kind: TokenKind,
  token: string,
  now: Date,
  what: string,
): Promise<Required<Omit<SingleUseToken, 'status'>>> {
  const found = await inspectToken(trx, kind, token, now, { forUpdate: true });
  if (found.status !== 'valid') throw unusableTokenError(found.status, what);
  return { tokenId: found.tokenId!, userId: found.userId!, nickname: found.nickname! };
}

/** Marks the claimed token used and revokes the user's other live tokens of that kind. */
export async function consumeToken(trx: Transaction<Database>, kind: TokenKind, tokenId: number, userId: number, now: Date): Promise<void> {
  await trx.updateTable('tokens').set({ used_at: now }).where('id', '=', tokenId).execute();
  await revokeTokens(trx, userId, [kind], now);
}
