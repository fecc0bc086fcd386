import type { LibContext } from '../context';
import type { UserJson } from './present';
import { toUserJson, USER_COLUMNS } from './present';
import { ConflictError, UsageError } from '../errors';
import { checkEmail, checkLocalNickname, checkText, MAX_BIO_LENGTH, MAX_NAME_LENGTH } from '../validate';
import { checkPassword, hashPassword } from '../passwords';
import { issueToken } from '../tokens';
import { writeAudit } from '../audit';
import { userConflict } from '../pg-errors';
import { links } from '../links';
import type { Kysely } from 'kysely';
import type { Database } from '../schema';

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
}

export interface CreatedUser {
  readonly user: UserJson;
  /** Present when no password was given: the set-password link, shown once. */
  readonly passwordReset: { readonly token: string; readonly url: string; readonly expiresAt: Date | null } | null;
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
      throw new UsageError(`cannot take a nickname from ${JSON.stringify(email)}: pass it explicitly, as in: ctl user new <nickname> ${email}`);
    }
  }
  checkLocalNickname(nickname);
  if (input.password != null) checkPassword(input.password);
  return {
    nickname,
    email,
    name: checkText('name', input.name ?? nickname, MAX_NAME_LENGTH),
    bio: checkText('bio', input.bio ?? '', MAX_BIO_LENGTH),
    password: input.password ?? null,
    admin: input.admin ?? false,
    moderator: input.moderator ?? false,
    confirmed: input.confirmed ?? true,
  };
}

/** Exit 4 naming what is taken, before anything is asked or written. */
export async function assertAvailable(db: Kysely<Database>, nickname: string, email: string | null): Promise<void> {
  const taken = await db
    .selectFrom('users')
    .select(['nickname', 'email'])
    .where((eb) => {
      const ors = [eb(eb.fn('lower', ['nickname']), '=', nickname.toLowerCase())];
      if (email !== null) ors.push(eb(eb.fn('lower', ['email']), '=', email.toLowerCase()));
      return eb.or(ors);
    })
    .execute();
  if (taken.some((u) => u.nickname.toLowerCase() === nickname.toLowerCase())) throw new ConflictError(`nickname ${nickname} is already taken`);
  if (taken.length > 0) throw new ConflictError(`email ${email} is already taken`);
}

/**
 * Creates a local account. Without a password, none is stored (no hash that could ever match) and
 * a single-use set-password token is issued in the same transaction as the account and its audit row.
 */
export async function createUser(ctx: LibContext, plan: NewUserPlan, settings: CreateUserSettings): Promise<CreatedUser> {
  await assertAvailable(ctx.db, plan.nickname, plan.email);
  const passwordHash = plan.password === null ? null : await hashPassword(plan.password, settings.bcryptCost);
  const now = ctx.now();
  try {
    return await ctx.db.transaction().execute(async (trx) => {
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
      let passwordReset: CreatedUser['passwordReset'] = null;
      if (passwordHash === null) {
        const issued = await issueToken(trx, { kind: 'password_reset', userId: row.id, now, ttlMs: settings.passwordResetTtlMs });
        passwordReset = { token: issued.token, url: links.passwordReset(settings.appUrl, issued.token), expiresAt: issued.expiresAt };
      }
      await writeAudit(trx, ctx, {
        verb: 'new',
        targetUserId: row.id,
        targetNickname: row.nickname,
        details: { email: row.email, admin: row.admin, moderator: row.moderator, confirmed: row.confirmed, passwordSet: passwordHash !== null },
      });
      return { user: toUserJson(row), passwordReset };
    });
  } catch (error) {
    throw userConflict(error, plan.nickname, plan.email) ?? error;
  }
}
