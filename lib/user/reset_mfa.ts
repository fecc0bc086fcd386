import { writeOnce, type LibContext } from '../lib-context';
import type { Db } from '../db/schema';
import { writeAudit } from '../audit/audit';
import { endTwoFactorChallenges } from '../tokens/store';
import { requireLocalUser, type UserRef } from './find';

export interface MfaResetResult {
  readonly userId: number;
  readonly nickname: string;
  /** What was (or, in a dry run, would be) removed. */
  readonly removed: {
    readonly mfaEnabled: boolean;
    readonly totpSecret: boolean;
    readonly backupCodes: number;
  };
  readonly changed: boolean;
  readonly dryRun: boolean;
}

/**
 * `reset_mfa`: turns multi-factor authentication off for a local user, removing the TOTP secret
 * (and its replay guard) and every backup code, and ending the pending two-factor logins (their
 * second step is gone), in one transaction with its audit row. The result
 * says what was there; nothing secret goes to the audit log, only what kind and how many.
 */
export async function resetMfa(ctx: LibContext, ref: UserRef, opts: { readonly dryRun?: boolean } = {}): Promise<MfaResetResult> {
  const dryRun = Boolean(opts.dryRun);
  const work = async (db: Db): Promise<MfaResetResult> => {
    const row = await requireLocalUser(db, ref, { forUpdate: !dryRun });
    const removed = {
      mfaEnabled: row.mfa_enabled,
      totpSecret: row.mfa_totp_secret !== null,
      backupCodes: row.mfa_backup_codes.length,
    };
    const changed = removed.mfaEnabled || removed.totpSecret || removed.backupCodes > 0 || row.mfa_last_step !== null;
    if (changed && !dryRun) {
      await db
        .updateTable('users')
        .set({ mfa_enabled: false, mfa_totp_secret: null, mfa_backup_codes: [], mfa_last_step: null, updated_at: ctx.now() })
        .where('id', '=', row.id)
        .execute();
      await endTwoFactorChallenges(db, row.id);
      await writeAudit(db, ctx, { verb: 'reset_mfa', targetUserId: row.id, targetNickname: row.nickname, details: { removed } });
    }
    return { userId: row.id, nickname: row.nickname, removed, changed, dryRun };
  };
  return writeOnce(ctx, dryRun, work);
}
