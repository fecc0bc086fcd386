import type { TokenKind, Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { writeAudit } from '../audit/audit';
import { endTwoFactorChallenges, revokeTokens, SESSION_KINDS } from '../tokens/store';
import { requireLocalUser, type UserRef } from './find';

/** Tokens of these kinds that revokeTokens would revoke: neither revoked nor used (expired ones included). */
export async function countRevocable(db: Db, userId: number, kinds: readonly TokenKind[]): Promise<number> {
  const rows = await countRevocableByKind(db, userId, kinds);
  return Object.values(rows).reduce((a, b) => a + b, 0);
}

async function countRevocableByKind(db: Db, userId: number, kinds: readonly TokenKind[]): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('tokens')
    .select(['kind', (eb) => eb.fn.countAll<number>().as('n')])
    .where('user_id', '=', userId)
    .where('kind', 'in', kinds)
    .where('revoked_at', 'is', null)
    .where('used_at', 'is', null)
    .groupBy('kind')
    .execute();
  const out: Record<string, number> = Object.fromEntries(kinds.map((k) => [k, 0]));
  for (const row of rows) out[row.kind] = Number(row.n);
  return out;
}

export interface SignOutResult {
  readonly id: number;
  readonly nickname: string;
  /** Revoked (or, in a dry run, revocable) tokens by kind: access, refresh, authorization. */
  readonly revoked: { readonly access: number; readonly refresh: number; readonly authorization: number };
  readonly total: number;
  readonly dryRun: boolean;
}

/**
 * `sign_out <user>`: revokes every session, access and refresh token and authorization of a local
 * user (`No local user X`, exit 3) and ends the pending two-factor logins (a temp token would
 * otherwise still become a session with one right code), in one transaction with its audit row.
 * Nothing to revoke is still exit 0 (and no audit row: nothing changed).
 */
export async function signOutUser(ctx: LibContext, ref: UserRef, opts: { readonly dryRun?: boolean } = {}): Promise<SignOutResult> {
  const shape = (id: number, nickname: string, counts: Record<string, number>, dryRun: boolean): SignOutResult => {
    const revoked = { access: counts.access ?? 0, refresh: counts.refresh ?? 0, authorization: counts.authorization ?? 0 };
    return { id, nickname, revoked, total: revoked.access + revoked.refresh + revoked.authorization, dryRun };
  };
  if (opts.dryRun) {
    const user = await requireLocalUser(ctx.db, ref);
    return shape(user.id, user.nickname, await countRevocableByKind(ctx.db, user.id, SESSION_KINDS), true);
  }
  return ctx.db.transaction().execute(async (trx) => {
    const user = await requireLocalUser(trx, ref, { forUpdate: true });
    const now = ctx.now();
    const counts: Record<string, number> = {};
    // One UPDATE per kind (three, whatever the number of tokens) so the result can say which.
    for (const kind of SESSION_KINDS) counts[kind] = await revokeTokens(trx, user.id, [kind], now);
    const twoFactorChallenges = await endTwoFactorChallenges(trx, user.id);
    const result = shape(user.id, user.nickname, counts, false);
    if (result.total > 0 || twoFactorChallenges > 0) {
      const details = { revoked: result.revoked, ...(twoFactorChallenges > 0 ? { twoFactorChallenges } : {}) };
      await writeAudit(trx, ctx, { verb: 'sign_out', targetUserId: user.id, targetNickname: user.nickname, details });
    }
    return result;
  });
}
