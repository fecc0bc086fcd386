import type { Transaction } from 'kysely';
import { writeOnce, type LibContext } from '../lib-context';
import type { Database, UserRow, UserUpdate, Db } from '../db/schema';
import { ConflictError, UsageError } from '../errors';
import { checkEmail, checkText, MAX_BIO_LENGTH, MAX_NAME_LENGTH } from '../validate';
import { issueToken, revokeLinks, revokeTokens } from '../tokens/store';
import { writeAudit } from '../audit/audit';
import { isDeadlock, userConflict } from '../db/pg-errors';
import { links } from '../tokens/links';
import { refText, requireLocalUser, type UserRef } from './find';
import { emailKeyOf, storedEmailKey } from './email-key';
import { assertNotLastAdmin, lockUserGuardingLastAdmin } from './last-admin';
import { toUserJson, type UserJson } from './present';
import { clipInput } from '../text';

/** What `set` may change; an absent key is left alone. */
export interface UserChanges {
  readonly admin?: boolean;
  readonly confirmed?: boolean;
  readonly locked?: boolean;
  readonly moderator?: boolean;
  readonly email?: string;
  readonly name?: string;
  readonly bio?: string;
}

/** The order `set` reports in: Pleroma's four flags first, in its order, then the profile. */
export const SET_FIELDS = ['admin', 'confirmed', 'locked', 'moderator', 'email', 'name', 'bio'] as const;
export type SetField = (typeof SET_FIELDS)[number];

export interface FieldChange {
  readonly field: SetField;
  readonly from: boolean | string | null;
  readonly to: boolean | string;
  /** False when the user already had this value (the line is still printed, as Pleroma does). */
  readonly changed: boolean;
}

export interface SetSettings {
  readonly appUrl: string;
  readonly confirmationTtlMs: number;
}

export interface SetResult {
  readonly user: UserJson;
  /** One entry per field asked for, in SET_FIELDS order. */
  readonly fields: readonly FieldChange[];
  /** True when anything was (or, in a dry run, would be) written. */
  readonly changed: boolean;
  /** `--no-confirmed`: the fresh email-confirmation link (shown once), or null. */
  readonly confirmation: { readonly url: string; readonly expiresAt: Date | null } | null;
  /** Pending email-confirmation tokens revoked by `--confirmed` (or replaced by `--no-confirmed`). */
  readonly revokedConfirmationTokens: number;
  readonly dryRun: boolean;
}

/** Checks and normalises the requested changes; exit 2 when there is nothing to change or a value is bad. */
export function checkChanges(changes: UserChanges): UserChanges {
  const out: { -readonly [K in keyof UserChanges]: UserChanges[K] } = {};
  for (const flag of ['admin', 'confirmed', 'locked', 'moderator'] as const) {
    if (changes[flag] !== undefined) out[flag] = Boolean(changes[flag]);
  }
  if (changes.email !== undefined) out.email = checkEmail(changes.email.trim());
  if (changes.name !== undefined) {
    if (changes.name.trim() === '') throw new UsageError('the name cannot be empty');
    out.name = checkText('name', changes.name, MAX_NAME_LENGTH);
  }
  if (changes.bio !== undefined) out.bio = checkText('bio', changes.bio, MAX_BIO_LENGTH);
  if (Object.keys(out).length === 0) {
    throw new UsageError('nothing to change: pass at least one of --[no-]admin, --[no-]confirmed, --[no-]locked, --[no-]moderator, --email, --name, --bio');
  }
  return out;
}

/** Email-confirmation tokens of the user not yet used or revoked. */
export async function countPendingConfirmations(db: Db, userId: number): Promise<number> {
  const row = await db
    .selectFrom('tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('kind', '=', 'email_confirmation')
    .where('revoked_at', 'is', null)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function fieldsOf(row: UserRow, changes: UserChanges): FieldChange[] {
  const fields: FieldChange[] = [];
  for (const field of SET_FIELDS) {
    const to = changes[field];
    if (to === undefined) continue;
    const from = row[field];
    const changed = field === 'email' ? (from ?? '') !== to : from !== to;
    fields.push({ field, from, to, changed });
  }
  return fields;
}

/**
 * `set`: changes a local user's flags and profile in one transaction with its audit row.
 * `confirmed: true` revokes pending email-confirmation tokens; `confirmed: false` replaces them
 * with a fresh one (even when the user was already unconfirmed, as Pleroma does). A new email
 * revokes every live set-password and confirmation link, in the same transaction: they were sent
 * to the old address. Taking admin
 * status from the last active admin is exit 4; a taken email is exit 4. A dry run does every
 * check and writes nothing.
 */
export async function setUser(
  ctx: LibContext,
  ref: UserRef,
  requested: UserChanges,
  settings: SetSettings,
  opts: { readonly dryRun?: boolean } = {},
): Promise<SetResult> {
  const changes = checkChanges(requested);
  const dryRun = Boolean(opts.dryRun);
  const work = async (db: Db): Promise<SetResult> => {
    // Demoting: the same locks, in the same order, as rm and deactivate take (the active admins in
    // id order, then the user), through the one function, so they queue instead of deadlocking;
    // the last active admin is refused (exit 4).
    const row =
      changes.admin === false && !dryRun
        ? await lockUserGuardingLastAdmin(db as Transaction<Database>, (forUpdate) => requireLocalUser(db, ref, { forUpdate }), 'remove admin status from')
        : await requireLocalUser(db, ref, { forUpdate: !dryRun });
    const fields = fieldsOf(row, changes);
    const patch: UserUpdate = {};
    for (const f of fields) if (f.changed) (patch as Record<string, unknown>)[f.field] = f.to;
    if (dryRun && patch.admin === false) await assertNotLastAdmin(db, row, 'remove admin status from', false);
    if (patch.email !== undefined) {
      const taken = await db
        .selectFrom('users')
        .select('id')
        .where((eb) => eb(storedEmailKey, '=', emailKeyOf(String(patch.email))))
        .where('id', '<>', row.id)
        .executeTakeFirst();
      if (taken) throw new ConflictError(`email ${clipInput(String(patch.email))} is already taken`);
    }
    const issuesToken = changes.confirmed === false;
    const pending = changes.confirmed === undefined ? 0 : await countPendingConfirmations(db, row.id);
    const changed = Object.keys(patch).length > 0 || issuesToken || pending > 0;
    if (dryRun || !changed) {
      return {
        user: toUserJson({ ...row, ...(patch as Partial<UserRow>) }),
        fields,
        changed,
        confirmation: null,
        revokedConfirmationTokens: pending,
        dryRun,
      };
    }
    const now = ctx.now();
    const updated =
      Object.keys(patch).length > 0
        ? await db
            .updateTable('users')
            .set({ ...patch, updated_at: now })
            .where('id', '=', row.id)
            .returningAll()
            .executeTakeFirstOrThrow()
        : row;
    const revoked = pending > 0 ? await revokeTokens(db, row.id, ['email_confirmation'], now) : 0;
    // A link mailed to the old address must not confirm the new one or reset the account's password.
    const revokedLinks = patch.email !== undefined ? await revokeLinks(db, row.id, now) : 0;
    let confirmation: SetResult['confirmation'] = null;
    if (issuesToken) {
      const issued = await issueToken(db, { kind: 'email_confirmation', userId: row.id, now, ttlMs: settings.confirmationTtlMs });
      confirmation = { url: links.confirmation(settings.appUrl, issued.token), expiresAt: issued.expiresAt };
    }
    const details: Record<string, unknown> = {};
    for (const f of fields) {
      if (!f.changed) continue;
      // The bio can be long: the audit log keeps that it changed, not its text.
      details[f.field] = f.field === 'bio' ? { changed: true, length: String(f.to).length } : { from: f.from, to: f.to };
    }
    if (issuesToken) details.confirmationTokenIssued = true;
    if (revoked > 0) details.confirmationTokensRevoked = revoked;
    if (revokedLinks > 0) details.linksRevoked = revokedLinks;
    await writeAudit(db, ctx, { verb: 'set', targetUserId: row.id, targetNickname: row.nickname, details });
    return { user: toUserJson(updated), fields, changed, confirmation, revokedConfirmationTokens: revoked, dryRun };
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeOnce(ctx, dryRun, work);
    } catch (error) {
      // PostgreSQL broke a lock cycle with another verb by rolling this transaction back: run it again.
      if (isDeadlock(error) && attempt < 3) continue;
      throw userConflict(error, refText(ref), changes.email ?? null) ?? error;
    }
  }
}
