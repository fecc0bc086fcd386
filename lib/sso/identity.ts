// lib/sso owns single sign-on: the external-identity core every method feeds (this file), its
// settings (settings.ts) and the methods (ldap.ts).
import type { Transaction } from 'kysely';
import type { Database, SsoProvider, UserRow } from '../db/schema';
import type { LibContext } from '../lib-context';
import type { EmailLinking } from './settings';
import { accountRefusal, AccountRefusedError, type Session } from '../auth/login';
import { issueToken, revokeTokens } from '../tokens/store';
import { writeAudit } from '../audit/audit';
import { isDeadlock, uniqueViolation } from '../db/pg-errors';
import { emailKeyOf, storedEmailKey } from '../user/email-key';
import { checkEmail, checkText, LOCAL_NICKNAME, MAX_NAME_LENGTH } from '../validate';
import { isActiveLocalAdmin, isLastActiveAdmin, lockActiveAdmins } from '../user/last-admin';
import { quoteInput } from '../text';

/** What an identity provider says about the person who just proved who they are. */
export interface ExternalProfile {
  readonly provider: SsoProvider;
  /** The provider's stable id for the person (LDAP DN, OpenID `sub`, SAML NameID): what later logins match on. */
  readonly subject: string;
  readonly email: string | null;
  /** The provider vouches for the address (LDAP: the directory is authoritative; OpenID: `email_verified`). */
  readonly emailVerified: boolean;
  /** A nickname to start from for a new account (LDAP uid, `preferred_username`). */
  readonly username: string | null;
  readonly name: string | null;
  /** The admin attribute's verdict; null when the provider is not configured to say. */
  readonly admin: boolean | null;
}

export interface IdentitySettings {
  readonly emailLinking: EmailLinking;
  readonly updateNamesOnLogin: boolean;
  readonly requireConfirmation: boolean;
  readonly sessionTtlMs: number;
}

export type IdentityOutcome = 'existing' | 'linked' | 'created';

export interface ExternalSession extends Session {
  readonly outcome: IdentityOutcome;
}

/**
 * Logs in someone an identity provider vouched for, in one transaction: the account tied to
 * (provider, subject); else an existing account with the same address, when the provider verified
 * it, the account confirmed it, and linking is on; else a new account made just in time (no
 * password hash, its provider recorded). Then, whatever the provider says, a deleted or
 * deactivated account stays refused; the admin attribute is applied (granted and revoked) at every
 * login, and the name refreshed when configured. Creating, linking and an admin change each write
 * an audit row. Two first logins at once race on the unique (provider, subject): the loser retries
 * once and finds the winner's account.
 */
export async function externalLogin(ctx: LibContext, settings: IdentitySettings, profile: ExternalProfile): Promise<ExternalSession> {
  if (!profile.subject) throw new AccountRefusedError('The identity provider gave no subject');
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.db.transaction().execute((trx) => loginInTransaction(trx, ctx, settings, profile));
    } catch (error) {
      if (attempt === 0 && uniqueViolation(error) !== null) continue;
      // A grant that landed between the look before the admins' locks and the account's row makes
      // the last-admin check lock them after it, against a demotion's order: PostgreSQL then breaks
      // the cycle, and the retry takes them first.
      if (attempt < 2 && isDeadlock(error)) continue;
      throw error;
    }
  }
}

async function loginInTransaction(trx: Transaction<Database>, ctx: LibContext, settings: IdentitySettings, profile: ExternalProfile): Promise<ExternalSession> {
  const now = ctx.now();
  let outcome: IdentityOutcome = 'existing';
  // A login that may take the admin role away locks the active admins before the account's row, in
  // the order every other demotion takes them (lib/user/last-admin.ts): then it and a CLI demotion
  // queue instead of deadlocking, and the last-admin check below sees them settled.
  if (profile.admin === false && (await demotesAnAdmin(trx, profile))) await lockActiveAdmins(trx);
  let user = await trx
    .selectFrom('users')
    .innerJoin('external_identities as x', 'x.user_id', 'users.id')
    .selectAll('users')
    .where('x.provider', '=', profile.provider)
    .where('x.subject', '=', profile.subject)
    .forUpdate('users')
    .executeTakeFirst();
  if (!user) {
    const email = profile.email ? checkedEmail(profile.email) : null;
    const holder = email ? await trx.selectFrom('users').selectAll().where(storedEmailKey, '=', emailKeyOf(email)).forUpdate().executeTakeFirst() : undefined;
    if (holder) {
      user = await link(trx, ctx, settings, profile, holder);
      outcome = 'linked';
    } else {
      user = await create(trx, ctx, profile, email);
      outcome = 'created';
    }
  }
  const refusal = accountRefusal(user, settings);
  if (refusal) throw new AccountRefusedError(refusal);

  const changes: { admin?: boolean; name?: string } = {};
  if (profile.admin !== null && profile.admin !== user.admin) changes.admin = profile.admin;
  if (changes.admin === false && (await isLastActiveAdmin(trx, user, true))) {
    // With no admin left the launchpad would open again, to whoever reaches it first. The account
    // keeps the role, as `set --no-admin` would refuse; the operator learns it from this row.
    delete changes.admin;
    await writeAudit(trx, ctx, {
      verb: 'sso_revoke_admin_refused',
      targetUserId: user.id,
      targetNickname: user.nickname,
      details: { provider: profile.provider, subject: profile.subject, reason: 'last active admin' },
    });
  }
  if (settings.updateNamesOnLogin && profile.name) {
    const name = checkText('name', profile.name, MAX_NAME_LENGTH);
    if (name !== user.name) changes.name = name;
  }
  if (changes.admin !== undefined && outcome !== 'created') {
    await writeAudit(trx, ctx, {
      verb: changes.admin ? 'sso_grant_admin' : 'sso_revoke_admin',
      targetUserId: user.id,
      targetNickname: user.nickname,
      details: { provider: profile.provider, admin: changes.admin },
    });
  }
  await trx
    .updateTable('external_identities')
    .set({ last_login_at: now })
    .where('provider', '=', profile.provider)
    .where('subject', '=', profile.subject)
    .execute();
  const updated = await trx
    .updateTable('users')
    .set({ last_login_at: now, ...changes, ...(Object.keys(changes).length > 0 ? { updated_at: now } : {}) })
    .where('id', '=', user.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  const issued = await issueToken(trx, { kind: 'access', userId: user.id, now, ttlMs: settings.sessionTtlMs });
  return { token: issued.token, expiresAt: issued.expiresAt, user: updated, outcome };
}

/** Whether the account this profile logs in to (by subject, else by address) is an admin the last-admin rule protects. */
async function demotesAnAdmin(trx: Transaction<Database>, profile: ExternalProfile): Promise<boolean> {
  const columns = ['users.id', 'users.nickname', 'users.admin', 'users.local', 'users.active', 'users.deleted_at'] as const;
  const linked = await trx
    .selectFrom('users')
    .innerJoin('external_identities as x', 'x.user_id', 'users.id')
    .select(columns)
    .where('x.provider', '=', profile.provider)
    .where('x.subject', '=', profile.subject)
    .executeTakeFirst();
  if (linked) return isActiveLocalAdmin(linked);
  if (!profile.email) return false;
  let email: string;
  try {
    email = checkEmail(profile.email);
  } catch {
    return false; // refused further on
  }
  const holder = await trx.selectFrom('users').select(columns).where(storedEmailKey, '=', emailKeyOf(email)).executeTakeFirst();
  return holder !== undefined && isActiveLocalAdmin(holder);
}

function checkedEmail(email: string): string {
  try {
    return checkEmail(email);
  } catch {
    throw new AccountRefusedError(`The identity provider gave an invalid email address ${quoteInput(email)}`);
  }
}

/**
 * Ties the identity to the account already holding the address. Refused unless both sides vouch
 * for the address: otherwise whoever registered (or renamed a directory entry to) someone else's
 * address first would take over, or be handed, that person's account.
 */
async function link(trx: Transaction<Database>, ctx: LibContext, settings: IdentitySettings, profile: ExternalProfile, holder: UserRow): Promise<UserRow> {
  const refusal = accountRefusal(holder, settings);
  if (refusal) throw new AccountRefusedError(refusal);
  const taken = `An account with the email address ${holder.email} already exists`;
  if (settings.emailLinking === 'refuse') throw new AccountRefusedError(`${taken}; an administrator must link it`);
  if (!profile.emailVerified) throw new AccountRefusedError(`${taken}, and the identity provider has not verified that address`);
  if (!holder.confirmed) throw new AccountRefusedError(`${taken} but has not confirmed it, so it cannot be linked`);
  if (holder.provider !== 'local' && holder.provider !== profile.provider) {
    throw new AccountRefusedError(`${taken} and signs in through ${holder.provider}`);
  }
  await trx
    .insertInto('external_identities')
    .values({ provider: profile.provider, subject: profile.subject, user_id: holder.id, created_at: ctx.now() })
    .execute();
  const linked = await trx.updateTable('users').set({ provider: profile.provider }).where('id', '=', holder.id).returningAll().executeTakeFirstOrThrow();
  // Its password is no longer what logs it in: outstanding reset links would only set an unused one.
  await revokeTokens(trx, holder.id, ['password_reset'], ctx.now());
  await writeAudit(trx, ctx, {
    verb: 'sso_link',
    targetUserId: holder.id,
    targetNickname: holder.nickname,
    details: { provider: profile.provider, subject: profile.subject },
  });
  return linked;
}

/** A nickname nobody holds: the provider's username, else the email's local part, with -2, -3... if taken. */
async function freeNickname(trx: Transaction<Database>, profile: ExternalProfile, email: string | null): Promise<string> {
  const raw = [profile.username, email?.slice(0, email.indexOf('@'))].find((c) => c && LOCAL_NICKNAME.test(c)) ?? 'user';
  const base = raw.slice(0, 56);
  const candidates = [base, ...Array.from({ length: 49 }, (_, i) => `${base}-${i + 2}`)];
  const rows = await trx
    .selectFrom('users')
    .select((eb) => eb.fn<string>('lower', ['nickname']).as('n'))
    .where(
      (eb) => eb.fn('lower', ['nickname']),
      'in',
      candidates.map((c) => c.toLowerCase()),
    )
    .execute();
  const taken = new Set(rows.map((r) => r.n));
  const free = candidates.find((c) => !taken.has(c.toLowerCase()));
  if (!free) throw new AccountRefusedError(`No free nickname near ${base}; create the account with ctl user new and let the login link it`);
  return free;
}

async function create(trx: Transaction<Database>, ctx: LibContext, profile: ExternalProfile, email: string | null): Promise<UserRow> {
  const now = ctx.now();
  const nickname = await freeNickname(trx, profile, email);
  const row = await trx
    .insertInto('users')
    .values({
      nickname,
      email,
      name: checkText('name', profile.name || nickname, MAX_NAME_LENGTH),
      password_hash: null,
      provider: profile.provider,
      local: true,
      admin: false,
      confirmed: email !== null && profile.emailVerified,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await trx.insertInto('external_identities').values({ provider: profile.provider, subject: profile.subject, user_id: row.id, created_at: now }).execute();
  await writeAudit(trx, ctx, {
    verb: 'sso_create',
    targetUserId: row.id,
    targetNickname: row.nickname,
    details: { provider: profile.provider, subject: profile.subject, admin: profile.admin === true },
  });
  return row;
}
