// lib/invites owns invite tokens: `ctl user invite`, `invites` and `revoke_invite`, and redeeming
// an invite at registration (the server calls the same functions).
// One file per function: the package index requires all ~300 of date-fns' modules (~75 ms of CPU here, against ~7 ms for these three).
import { isExists } from 'date-fns/isExists';
import { isValid } from 'date-fns/isValid';
import { parseISO } from 'date-fns/parseISO';
import type { Kysely } from 'kysely';
import type { Database, InviteRow, InviteType, Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { ConflictError, EmailTakenError, NotFoundError, UsageError } from '../errors';
import { hashToken, newToken } from '../tokens/secrets';
import { writeAudit } from '../audit/audit';
import { links } from '../tokens/links';
import { parseDuration } from '../config';
import { checkEmail, checkText, emailKey, MAX_NAME_LENGTH } from '../validate';
import { emailKeyOf, storedEmailKey } from '../user/email-key';
import { hashPassword } from '../auth/passwords';
import { userConflict } from '../db/pg-errors';
import { assertAvailable, insertUser, planNewUser, type CreatedUser, type CreateUserSettings, type NewUserInput } from '../user/new';
import { clipInput, quoteInput } from '../text';

/**
 * `valid` while Pleroma would accept it: not used, today (UTC) on or before the expiry day, uses
 * below max_use. `revoked` is an invite `revoke_invite` stopped (Pleroma marks those `used` too).
 */
export type InviteStatus = 'valid' | 'used' | 'expired' | 'revoked';

/** An invite as every output shows it: never the token, only a short prefix of it. */
export interface InviteJson {
  readonly id: number;
  /** The first characters of the token: enough to tell invites apart, useless to redeem one. */
  readonly tokenPrefix: string;
  readonly type: InviteType;
  readonly status: InviteStatus;
  /** Pleroma's flag: set once the invite is used up, and by revoke_invite. */
  readonly used: boolean;
  readonly uses: number;
  /** Only reusable invites have one; the others are single-use. */
  readonly maxUse: number | null;
  readonly usesLeft: number;
  /** The last day the invite works (UTC), 'YYYY-MM-DD'. */
  readonly expiresAt: string | null;
  readonly email: string | null;
  readonly name: string | null;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** InviteJson's keys in its order: the header of a CSV of no invites (`invites --format csv`). */
export const INVITE_JSON_KEYS = [
  'id',
  'tokenPrefix',
  'type',
  'status',
  'used',
  'uses',
  'maxUse',
  'usesLeft',
  'expiresAt',
  'email',
  'name',
  'createdAt',
  'revokedAt',
] as const satisfies readonly (keyof InviteJson)[];

export interface InviteInput {
  /** The last day the invite works, 'YYYY-MM-DD' (UTC, inclusive, as Pleroma). */
  readonly expiresAt?: string | null;
  readonly maxUse?: number | null;
  /** Who the invite is for: it is mailed there, and only that address can redeem it. */
  readonly email?: string | null;
  readonly name?: string | null;
}

export interface InvitePlan {
  readonly type: InviteType;
  readonly expiresAt: string | null;
  readonly maxUse: number | null;
  readonly email: string | null;
  readonly name: string | null;
}

export const TOKEN_PREFIX_LENGTH = 6;
const MAX_INT4 = 2147483647;

/** The UTC day of an instant, 'YYYY-MM-DD'. */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Pleroma's type names with spaces: `one time`, `reusable date limited`. */
export function inviteTypeLabel(type: InviteType): string {
  return type.replace(/_/g, ' ');
}

/** Pleroma's rule: neither option one_time, only expiry date_limited, only max use reusable, both reusable_date_limited. */
export function inviteType(expiresAt: string | null, maxUse: number | null): InviteType {
  if (maxUse !== null) return expiresAt !== null ? 'reusable_date_limited' : 'reusable';
  return expiresAt !== null ? 'date_limited' : 'one_time';
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real 'YYYY-MM-DD' day that is not before today (UTC); exit 2 quoting the value otherwise. */
export function checkExpiryDay(value: string, now: Date, option = '--expires-at'): string {
  const match = DAY.exec(value);
  if (!match || !isExists(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) {
    throw new UsageError(`invalid date ${quoteInput(value)} for ${option}: expected YYYY-MM-DD`);
  }
  const today = utcDay(now);
  if (value < today) throw new UsageError(`${option} ${clipInput(value)} is in the past: the last day an invite works cannot be before today (${today}, UTC)`);
  return value;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * The command line's expiry options as the invite's last day (UTC): `--expires-at 2026-05-01`
 * (that day included), `--expires-at 2026-05-01T18:00:00Z` (its UTC day; no offset means UTC),
 * or `--expires-in 7d|12h|2w` (the UTC day that much time from now falls on). Neither: null.
 */
export function resolveInviteExpiry(opts: { readonly expiresAt?: string | null; readonly expiresIn?: string | null }, now: Date): string | null {
  if (opts.expiresAt != null && opts.expiresIn != null) throw new UsageError('give --expires-at or --expires-in, not both');
  if (opts.expiresIn != null) {
    const ms = parseDuration(opts.expiresIn);
    if (ms === null || ms === 0)
      throw new UsageError(`invalid duration ${quoteInput(opts.expiresIn)} for --expires-in: expected a duration like 7d, 12h or 2w`);
    return utcDay(new Date(now.getTime() + ms));
  }
  if (opts.expiresAt == null) return null;
  const value = opts.expiresAt.trim();
  if (DAY.test(value)) return checkExpiryDay(value, now);
  if (ISO_TIMESTAMP.test(value)) {
    const hasOffset = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(value.slice(10));
    const instant = parseISO(hasOffset ? value : `${value}Z`);
    if (!isValid(instant)) throw new UsageError(`invalid date ${quoteInput(opts.expiresAt)} for --expires-at: expected YYYY-MM-DD or an ISO timestamp`);
    if (instant.getTime() <= now.getTime()) throw new UsageError(`--expires-at ${clipInput(opts.expiresAt)} is in the past`);
    return utcDay(instant);
  }
  throw new UsageError(`invalid date ${quoteInput(opts.expiresAt)} for --expires-at: expected YYYY-MM-DD or an ISO timestamp`);
}

/** A max use from the command line or the app: a whole number from 1 up; exit 2 quoting the value otherwise. */
export function parseMaxUse(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_INT4) {
    throw new UsageError(
      `invalid --max-use ${typeof value === 'string' ? quoteInput(value) : JSON.stringify(value)}: expected a whole number from 1 to ${MAX_INT4}`,
    );
  }
  return n;
}

/** Checks and normalises an invite request (no database needed). */
export function planInvite(input: InviteInput, now: Date): InvitePlan {
  const expiresAt = input.expiresAt == null ? null : checkExpiryDay(input.expiresAt, now);
  const maxUse = parseMaxUse(input.maxUse);
  const email = input.email == null ? null : checkEmail(input.email);
  const name = input.name == null || input.name === '' ? null : checkText('name', input.name, MAX_NAME_LENGTH);
  if (name !== null && email === null) throw new UsageError('a name goes with an email: give --email too');
  return { type: inviteType(expiresAt, maxUse), expiresAt, maxUse, email, name };
}

/** An invite for an address that already has an account is a conflict (LibreChat's invite-user). */
export async function assertInviteEmailFree(db: Db, email: string | null): Promise<void> {
  if (email === null) return;
  const taken = await db
    .selectFrom('users')
    .select('id')
    .where((eb) => eb(storedEmailKey, '=', emailKeyOf(email)))
    .executeTakeFirst();
  if (taken) throw new ConflictError(`email ${clipInput(email)} is already taken`);
}

export function inviteStatus(row: Pick<InviteRow, 'revoked_at' | 'used' | 'uses' | 'max_use' | 'expires_at'>, now: Date): InviteStatus {
  if (row.revoked_at !== null) return 'revoked';
  if (row.used || (row.max_use !== null && row.uses >= row.max_use)) return 'used';
  if (row.expires_at !== null && row.expires_at < utcDay(now)) return 'expired';
  return 'valid';
}

export function toInviteJson(row: InviteRow, now: Date): InviteJson {
  const status = inviteStatus(row, now);
  return {
    id: row.id,
    tokenPrefix: row.token_prefix,
    type: row.invite_type,
    status,
    used: row.used,
    uses: row.uses,
    maxUse: row.max_use,
    usesLeft: row.used || row.revoked_at !== null ? 0 : Math.max(0, (row.max_use ?? 1) - row.uses),
    expiresAt: row.expires_at,
    email: row.email,
    name: row.name,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

export interface CreatedInvite {
  readonly invite: InviteJson;
  /** The raw token, printed or mailed once; only its hash is stored. */
  readonly token: string;
  /** `<APP_URL>/registration/<token>` */
  readonly url: string;
}

/**
 * Pleroma's `invite`: stores the hash of a fresh token and returns the token and its registration
 * URL. A past expiry day, a max use below 1 or a bad email is exit 2; an email that already has an
 * account exit 4.
 */
export async function createInvite(ctx: LibContext, input: InviteInput, settings: { readonly appUrl: string }): Promise<CreatedInvite> {
  const now = ctx.now();
  const plan = planInvite(input, now);
  const token = newToken();
  return ctx.db.transaction().execute(async (trx) => {
    await assertInviteEmailFree(trx, plan.email);
    const row = await trx
      .insertInto('invites')
      .values({
        token_hash: hashToken(token),
        token_prefix: token.slice(0, TOKEN_PREFIX_LENGTH),
        invite_type: plan.type,
        max_use: plan.maxUse,
        expires_at: plan.expiresAt,
        email: plan.email,
        name: plan.name,
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      verb: 'invite',
      targetNickname: null,
      details: { inviteId: row.id, tokenPrefix: row.token_prefix, type: plan.type, expiresAt: plan.expiresAt, maxUse: plan.maxUse, email: plan.email },
    });
    return { invite: toInviteJson(row, now), token, url: links.registration(settings.appUrl, token) };
  });
}

/**
 * Invites in id order: usable ones, or with `all` every invite (used, expired and revoked too).
 * Invites are few (an operator makes them by hand), so one query suffices.
 */
export async function listInvites(db: Kysely<Database>, opts: { readonly all?: boolean; readonly now: Date }): Promise<InviteJson[]> {
  let query = db.selectFrom('invites').selectAll().orderBy('id');
  if (!opts.all) {
    query = query
      .where('used', '=', false)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>=', utcDay(opts.now))]))
      .where((eb) => eb.or([eb('max_use', 'is', null), eb('uses', '<', eb.ref('max_use'))]));
  }
  return (await query.execute()).map((row) => toInviteJson(row, opts.now));
}

const ID = /^\d{1,15}$/;

function byTokenOrId(db: Db, tokenOrId: string) {
  const query = db.selectFrom('invites').selectAll();
  return ID.test(tokenOrId) ? query.where('id', '=', Number(tokenOrId)) : query.where('token_hash', '=', hashToken(tokenOrId));
}

function notFound(tokenOrId: string): NotFoundError {
  return new NotFoundError(ID.test(tokenOrId) ? `No invite found with id ${tokenOrId}` : `No invite found with token ${tokenOrId}`);
}

/** An invite by its token or its id (as `invites` lists it); exit 3 when there is none. */
export async function findInvite(db: Kysely<Database>, tokenOrId: string, now: Date): Promise<InviteJson> {
  const row = await byTokenOrId(db, tokenOrId).executeTakeFirst();
  if (!row) throw notFound(tokenOrId);
  return toInviteJson(row, now);
}

export interface RevokedInvite {
  readonly invite: InviteJson;
  /** Revoked before this call: nothing changed. */
  readonly alreadyRevoked: boolean;
}

/**
 * Pleroma's `revoke_invite`: marks the invite used (and revoked) so it can never be redeemed
 * again. Takes the token or the invite's id. Unknown: NotFoundError `No invite found with token X`.
 */
export async function revokeInvite(ctx: LibContext, tokenOrId: string): Promise<RevokedInvite> {
  return ctx.db.transaction().execute(async (trx) => {
    const row = await byTokenOrId(trx, tokenOrId).forUpdate().executeTakeFirst();
    if (!row) throw notFound(tokenOrId);
    const now = ctx.now();
    if (row.revoked_at !== null) return { invite: toInviteJson(row, now), alreadyRevoked: true };
    const updated = await trx.updateTable('invites').set({ used: true, revoked_at: now }).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, { verb: 'revoke_invite', details: { inviteId: row.id, tokenPrefix: row.token_prefix, uses: row.uses } });
    return { invite: toInviteJson(updated, now), alreadyRevoked: false };
  });
}

export type InviteCheckStatus = InviteStatus | 'unknown';

export interface InviteCheck {
  readonly status: InviteCheckStatus;
  readonly invite?: InviteJson;
}

/** Read-only, for the registration page: whether the token can still create an account. */
export async function checkInvite(db: Kysely<Database>, token: string, now: Date): Promise<InviteCheck> {
  if (typeof token !== 'string' || token === '') return { status: 'unknown' };
  const row = await db.selectFrom('invites').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirst();
  if (!row) return { status: 'unknown' };
  const invite = toInviteJson(row, now);
  return { status: invite.status, invite };
}

const UNUSABLE: Record<Exclude<InviteStatus, 'valid'>, string> = {
  used: 'this invite has already been used',
  expired: 'this invite has expired',
  revoked: 'this invite was revoked',
};

/** Throws why an invite cannot create this account: unknown exit 3; used, expired, revoked or another address exit 4. */
function assertRedeemable(check: InviteCheck, email: string): InviteJson {
  if (check.status === 'unknown' || !check.invite) throw new NotFoundError('unknown invite token');
  if (check.status !== 'valid') throw new ConflictError(UNUSABLE[check.status]);
  if (check.invite.email !== null && emailKey(check.invite.email) !== emailKey(email)) {
    throw new ConflictError('this invite was sent to another email address');
  }
  return check.invite;
}

/**
 * Registers an account with an invite. In one transaction, with the invite row locked
 * (`SELECT ... FOR UPDATE`), the invite is checked as Pleroma does, the account created and the
 * use counted, so concurrent redemptions never exceed max_use; a registration that fails (taken
 * nickname, bad input) rolls back and leaves the invite as it was, except a taken email, which
 * spends one use (spendOnTakenEmail). An invite made for an email
 * address only registers that address (and confirms it: the invite was sent there); an invite for
 * anyone gives an unconfirmed account with a confirmation link.
 */
export async function redeemInvite(ctx: LibContext, token: string, newUser: NewUserInput, settings: CreateUserSettings): Promise<CreatedUser> {
  const plan = planNewUser(newUser);
  if (plan.password === null) throw new UsageError('a password is required to register');
  // Cheap checks first, so a dead invite or a taken name fails before the bcrypt work.
  assertRedeemable(await checkInvite(ctx.db, token, ctx.now()), plan.email);
  // The person registering is told only that a name is taken, never that a deleted account holds it.
  await assertAvailable(ctx.db, plan.nickname, plan.email, 'public').catch((error: unknown) => spendOnTakenEmail(ctx, token, error));
  const passwordHash = await hashPassword(plan.password, settings.bcryptCost);
  try {
    return await ctx.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('invites').selectAll().where('token_hash', '=', hashToken(token)).forUpdate().executeTakeFirst();
      const now = ctx.now();
      const invite = assertRedeemable(row ? { status: inviteStatus(row, now), invite: toInviteJson(row, now) } : { status: 'unknown' }, plan.email);
      // An invite made for an address vouches for it; one made for anyone does not, so that account
      // starts unconfirmed and gets a confirmation link like any other unverified address.
      const created = await insertUser(trx, ctx, invite.email === null ? { ...plan, confirmed: false } : plan, passwordHash, settings, { inviteId: invite.id });
      const uses = row!.uses + 1;
      const usedUp = row!.max_use === null || uses >= row!.max_use;
      await trx.updateTable('invites').set({ uses, used: usedUp }).where('id', '=', invite.id).execute();
      await writeAudit(trx, ctx, {
        verb: 'redeem_invite',
        targetUserId: created.user.id,
        targetNickname: created.user.nickname,
        details: { inviteId: invite.id, tokenPrefix: invite.tokenPrefix, uses, maxUse: row!.max_use, usedUp },
      });
      return created;
    });
  } catch (error) {
    return spendOnTakenEmail(ctx, token, userConflict(error, plan.nickname, plan.email) ?? error);
  }
}

/**
 * Rethrows `error`; when it says the email already has an account, one use of the invite is spent
 * first (its own transaction, audited as `spend_invite`). Whoever holds an invite can then ask
 * "is this address taken?" only as many times as the invite has uses, not without end. A taken
 * nickname (public anyway: it names the profile) or a bad field leaves the invite as it was.
 */
async function spendOnTakenEmail(ctx: LibContext, token: string, error: unknown): Promise<never> {
  if (!(error instanceof EmailTakenError)) throw error;
  await ctx.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('invites').selectAll().where('token_hash', '=', hashToken(token)).forUpdate().executeTakeFirst();
    if (!row || inviteStatus(row, ctx.now()) !== 'valid') return;
    const uses = row.uses + 1;
    const usedUp = row.max_use === null || uses >= row.max_use;
    await trx.updateTable('invites').set({ uses, used: usedUp }).where('id', '=', row.id).execute();
    await writeAudit(trx, ctx, {
      verb: 'spend_invite',
      details: { inviteId: row.id, tokenPrefix: row.token_prefix, uses, maxUse: row.max_use, usedUp, why: 'the email address already has an account' },
    });
  });
  throw error;
}
