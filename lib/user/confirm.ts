import { writeOnce, type LibContext } from '../lib-context';
import type { Db } from '../db/schema';
import { revokeTokens } from '../tokens/store';
import { writeAudit } from '../audit/audit';
import { refText, requireUser } from './find';
import { countPendingConfirmations } from './set';

export interface ConfirmResult {
  readonly userId: number;
  readonly nickname: string;
  /** True when the user was unconfirmed or had pending confirmation links (and so was, or would be, changed). */
  readonly changed: boolean;
  readonly wasConfirmed: boolean;
  readonly revokedConfirmationTokens: number;
  readonly dryRun: boolean;
}

/**
 * `confirm`: marks any user (local or remote, as Pleroma) confirmed and revokes their pending
 * email-confirmation links, in one transaction with its audit row. Idempotent: a confirmed user
 * with no pending link is left alone and no audit row is written. Missing: exit 3 with Pleroma's
 * `No local user X` (its wording, although remote users are found too).
 */
export async function confirmUser(ctx: LibContext, ref: string, opts: { readonly dryRun?: boolean } = {}): Promise<ConfirmResult> {
  const dryRun = Boolean(opts.dryRun);
  const work = async (db: Db): Promise<ConfirmResult> => {
    const row = await requireUser(db, ref, { forUpdate: !dryRun }, `No local user ${refText(ref)}`);
    const pending = await countPendingConfirmations(db, row.id);
    const changed = !row.confirmed || pending > 0;
    if (changed && !dryRun) {
      const now = ctx.now();
      if (!row.confirmed) await db.updateTable('users').set({ confirmed: true, updated_at: now }).where('id', '=', row.id).execute();
      const revoked = pending > 0 ? await revokeTokens(db, row.id, ['email_confirmation'], now) : 0;
      await writeAudit(db, ctx, {
        verb: 'confirm',
        targetUserId: row.id,
        targetNickname: row.nickname,
        details: { confirmed: { from: row.confirmed, to: true }, confirmationTokensRevoked: revoked },
      });
    }
    return { userId: row.id, nickname: row.nickname, changed, wasConfirmed: row.confirmed, revokedConfirmationTokens: pending, dryRun };
  };
  return writeOnce(ctx, dryRun, work);
}
