import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';
import type { LibContext } from '../lib-context';
import { ConflictError } from '../errors';
import { issueToken, type IssuedToken } from './store';
import { claimToken, consumeToken, inspectToken, type SingleUseStatus } from './single-use';
import { writeAudit } from '../audit/audit';
import { links } from './links';
import { requireLocalUser, type UserRef } from '../user/find';
import { toUserJson, type UserJson } from '../user/present';

/**
 * Issues an email-confirmation token inside the caller's transaction. `new --no-confirmed`,
 * `set --no-confirmed`, `unconfirm_all` and `send_confirmation` all write this same kind of row,
 * so confirmEmail consumes any of them.
 */
export function issueConfirmation(trx: Transaction<Database> | Kysely<Database>, userId: number, now: Date, ttlMs: number | null): Promise<IssuedToken> {
  return issueToken(trx, { kind: 'email_confirmation', userId, now, ttlMs });
}

export interface ConfirmationCheck {
  readonly status: SingleUseStatus;
  readonly nickname?: string;
}

/** Read-only: what the page behind a confirmation link should say. */
export async function checkConfirmationToken(db: Kysely<Database>, token: string, now: Date): Promise<ConfirmationCheck> {
  const found = await inspectToken(db, 'email_confirmation', token, now);
  return found.status === 'unknown' ? { status: 'unknown' } : { status: found.status, nickname: found.nickname };
}

/**
 * Confirms the email of the token's user: the token is marked used, the user's other live
 * confirmation tokens are revoked, and the audit row is written, in one transaction. Unknown
 * token: NotFoundError; used, revoked or expired: ConflictError.
 */
export async function confirmEmail(ctx: LibContext, token: string): Promise<{ userId: number; nickname: string }> {
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const claimed = await claimToken(trx, 'email_confirmation', token, now, 'email confirmation');
    await trx.updateTable('users').set({ confirmed: true, updated_at: now }).where('id', '=', claimed.userId).execute();
    await consumeToken(trx, 'email_confirmation', claimed.tokenId, claimed.userId, now);
    await writeAudit(trx, ctx, {
      verb: 'confirm_email',
      targetUserId: claimed.userId,
      targetNickname: claimed.nickname,
      details: { tokenId: claimed.tokenId },
    });
    return { userId: claimed.userId, nickname: claimed.nickname };
  });
}

export interface ConfirmationSettings {
  readonly appUrl: string;
  readonly confirmationTtlMs: number;
}

export interface ConfirmationIssued {
  readonly user: UserJson;
  /** null when the user is already confirmed: nothing was issued. */
  readonly confirmation: { readonly token: string; readonly url: string; readonly expiresAt: Date | null } | null;
}

/**
 * A fresh confirmation link for a local user with an email address (`send_confirmation`).
 * Earlier links stay valid until one of them is used. Already confirmed: nothing is written.
 */
export async function createConfirmation(ctx: LibContext, userRef: UserRef, settings: ConfirmationSettings): Promise<ConfirmationIssued> {
  return ctx.db.transaction().execute(async (trx) => {
    const row = await requireLocalUser(trx, userRef, { forUpdate: true });
    if (row.confirmed) return { user: toUserJson(row), confirmation: null };
    if (!row.email) throw new ConflictError(`User ${row.nickname} has no email address to confirm`);
    const now = ctx.now();
    const issued = await issueConfirmation(trx, row.id, now, settings.confirmationTtlMs);
    await writeAudit(trx, ctx, {
      verb: 'send_confirmation',
      targetUserId: row.id,
      targetNickname: row.nickname,
      details: { tokenId: issued.id, expiresAt: issued.expiresAt },
    });
    return {
      user: toUserJson(row),
      confirmation: { token: issued.token, url: links.confirmation(settings.appUrl, issued.token), expiresAt: issued.expiresAt },
    };
  });
}
