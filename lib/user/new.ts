import type { LibContext } from '../lib-context';
import type { UserJson } from './present';
import { toUserJson, USER_COLUMNS } from './present';
import { ConflictError, EmailTakenError, UsageError } from '../errors';
import { checkEmail, checkLocalNickname, checkText, MAX_BIO_LENGTH, nameOrNickname } from '../validate';
import { checkPassword, hashPassword } from '../auth/passwords';
import { issueToken } from '../tokens/store';
import { writeAudit } from '../audit/audit';
import { userConflict } from '../db/pg-errors';
import { emailKeyOf, storedEmailKey } from './email-key';
import { links } from '../tokens/links';
import { issueConfirmation } from '../tokens/confirmation';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';
import { clipInput, quoteInput } from '../text';

export interface NewUserInput {
  readonly nickname?: string | null;
  readonly email: string;
  readonly name?: string | null;
  readonly bio?: string | null;
  /** null: no password; the account gets a set-password (reset) link instead. */
  readonly password?: string | null;
  readonly admin?: boolean;
  readonly moderator?: boolean;
  readonly confirmed?: boolean;
}

/** A validated, normalised new user: what the summary shows and what will be written. */
export interface NewUserPlan {
  readonly nickname: string;
  readonly email: string;
  readonly name: string;
  readonly bio: string;
  readonly password: string | null;
  readonly admin: boolean;
  readonly moderator: boolean;
  readonly confirmed: boolean;
}

export interface CreateUserSettings {
  readonly appUrl: string;
  readonly bcryptCost: number;
  readonly passwordResetTtlMs: number;
  /** Life of the email-confirmation link an unconfirmed account gets (CTL_CONFIRMATION_TTL); default 7 days. */
  readonly confirmationTtlMs?: number;
}

export const DEFAULT_CONFIRMATION_TTL_MS = 7 * 86400e3;

/** A link issued with an account, shown (or mailed) once. */
export interface IssuedLink {
  readonly token: string;
  readonly url: string;
  readonly expiresAt: Date | null;
}

export interface CreatedUser {
  readonly user: UserJson;
  /** Present when no password was given: the set-password link, shown once. */
  readonly passwordReset: IssuedLink | null;
  /** Present when the account starts unconfirmed: the email-confirmation link, shown once. */
  readonly confirmation: IssuedLink | null;
}

/**
 * Checks and normalises the input. With no nickname, the email's local part is the nickname
 * (LibreChat's single-argument form).
 */
export function planNewUser(input: NewUserInput): NewUserPlan {
  const email = checkEmail(input.email);
  let nickname = input.nickname ?? null;
  if (nickname === null) {
    nickname = email.slice(0, email.indexOf('@'));
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(nickname)) {
      throw new UsageError(`cannot take a nickname from ${quoteInput(email)}: pass it explicitly, as in: ctl user new <nickname> ${clipInput(email)}`);
    }
  }
  checkLocalNickname(nickname);
  if (input.password != null) checkPassword(input.password);
  return {
    nickname,
    email,
    name: nameOrNickname(input.name, nickname),
    bio: checkText('bio', input.bio ?? '', MAX_BIO_LENGTH),
    password: input.password ?? null,
    admin: input.admin ?? false,
    moderator: input.moderator ?? false,
    confirmed: input.confirmed ?? true,
  };
}

/**
 * Who is told why a nickname or address is taken. An operator (the CLI, the console, the
 * launchpad) learns that a soft-deleted account holds it, which one, and how to free it; a visitor
 * registering through the app only that it is taken, as for a live account: the deleted account's
 * nickname and its deletion are not theirs to learn from an address they typed.
 */
export type TakenAudience = 'operator' | 'public';

/** Exit 4 naming what is taken, before anything is asked or written. */
export async function assertAvailable(db: Kysely<Database>, nickname: string, email: string | null, audience: TakenAudience = 'operator'): Promise<void> {
  const taken = await db
    .selectFrom('users')
    .select(['nickname', 'email', 'deleted_at'])
    .where((eb) => {
      const ors = [eb(eb.fn('lower', ['nickname']), '=', nickname.toLowerCase())];
      if (email !== null) ors.push(eb(storedEmailKey, '=', emailKeyOf(email)));
      return eb.or(ors);
    })
    .execute();
  const byNickname = taken.find((u) => u.nickname.toLowerCase() === nickname.toLowerCase());
  const held = (user: (typeof taken)[number]) => (audience === 'operator' ? heldByDeleted(user) : '');
  if (byNickname) throw new ConflictError(`nickname ${clipInput(nickname)} is already taken${held(byNickname)}`);
  if (taken.length > 0) throw new EmailTakenError(`email ${clipInput(String(email))} is already taken${held(taken[0])}`);
}

/**
 * After `rm joe`, `new joe` met only "already taken": a soft-deleted account still holds the name
 * and address until it is purged, so say so and name both ways out.
 */
function heldByDeleted(user: { readonly nickname: string; readonly deleted_at: Date | null }): string {
  if (user.deleted_at === null) return '';
  return ` by the deleted account ${user.nickname} (soft-deleted, kept until purged): restore it with \`ctl user restore ${user.nickname}\`, or free it with \`ctl user rm ${user.nickname} --purge\``;
}

/**
 * Writes a planned account inside the caller's transaction: the row, a set-password token when
 * there is no password, an email-confirmation token when it starts unconfirmed, and the audit
 * row. Shared by createUser and invite redemption so both create accounts the same way.
 */
export async function insertUser(
  trx: Transaction<Database>,
  ctx: LibContext,
  plan: NewUserPlan,
  passwordHash: string | null,
  settings: CreateUserSettings,
  auditDetails: Record<string, unknown> = {},
): Promise<CreatedUser> {
  const now = ctx.now();
  const row = await trx
    .insertInto('users')
    .values({
      nickname: plan.nickname,
      email: plan.email,
      name: plan.name,
      bio: plan.bio,
      password_hash: passwordHash,
      local: true,
      admin: plan.admin,
      moderator: plan.moderator,
      confirmed: plan.confirmed,
      created_at: now,
      updated_at: now,
    })
    .returning(USER_COLUMNS)
    .executeTakeFirstOrThrow();
  let passwordReset: IssuedLink | null = null;
  if (passwordHash === null) {
    const issued = await issueToken(trx, { kind: 'password_reset', userId: row.id, now, ttlMs: settings.passwordResetTtlMs });
    passwordReset = { token: issued.token, url: links.passwordReset(settings.appUrl, issued.token), expiresAt: issued.expiresAt };
  }
  let confirmation: IssuedLink | null = null;
  if (!row.confirmed) {
    const issued = await issueConfirmation(trx, row.id, now, settings.confirmationTtlMs ?? DEFAULT_CONFIRMATION_TTL_MS);
    confirmation = { token: issued.token, url: links.confirmation(settings.appUrl, issued.token), expiresAt: issued.expiresAt };
  }
  await writeAudit(trx, ctx, {
    verb: 'new',
    targetUserId: row.id,
    targetNickname: row.nickname,
    details: { email: row.email, admin: row.admin, moderator: row.moderator, confirmed: row.confirmed, passwordSet: passwordHash !== null, ...auditDetails },
  });
  return { user: toUserJson(row), passwordReset, confirmation };
}

/**
 * Creates a local account. Without a password, none is stored (no hash that could ever match) and
 * a single-use set-password token is issued in the same transaction as the account and its audit
 * row; an unconfirmed account gets its email-confirmation token the same way.
 */
export async function createUser(ctx: LibContext, plan: NewUserPlan, settings: CreateUserSettings, audience: TakenAudience = 'operator'): Promise<CreatedUser> {
  await assertAvailable(ctx.db, plan.nickname, plan.email, audience);
  const passwordHash = plan.password === null ? null : await hashPassword(plan.password, settings.bcryptCost);
  try {
    return await ctx.db.transaction().execute((trx) => insertUser(trx, ctx, plan, passwordHash, settings));
  } catch (error) {
    throw userConflict(error, plan.nickname, plan.email) ?? error;
  }
}
