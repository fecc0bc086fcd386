// lib/auth owns proving who someone is: login, sessions and registration (this file), password
// rules and bcrypt (passwords.ts, hash-pool.ts for hashing off the main thread, password-checks.ts
// for login's checks on it), TOTP with backup codes (mfa.ts), and the login limits (the lock-out
// policy in login-throttle.ts over the database-kept counts of limits.ts).
import type { UserRow, Db } from '../db/schema';
import type { LibContext } from '../lib-context';
import { CtlError, RefusedError } from '../errors';
import { costOf } from './passwords';
import { LoginThrottle, RateLimitedError, type LoginSlots } from './login-throttle';
import { hashToken } from '../tokens/secrets';
import { issueToken } from '../tokens/store';
import { findUser } from '../user/find';
import { checkBackupCode, verifySecondFactor } from './mfa';
import { createUser, planNewUser, type CreateUserSettings, type CreatedUser, type NewUserInput } from '../user/new';
import { redeemInvite } from '../invites/invites';

// The throttle lives in login-throttle.ts (its rules in the database, limits.ts); callers keep
// importing it from here.
export { LoginThrottle, RateLimitedError };

/** What login and session checks need from the configuration. */
export interface AuthSettings {
  readonly bcryptCost: number;
  readonly sessionTtlMs: number;
  readonly requireConfirmation: boolean;
}

/** Wrong login, password or second factor: HTTP 401. Never says which of them was wrong. */
export class LoginFailedError extends CtlError {
  override readonly exitCode = 5;
  constructor(
    message: string,
    readonly mfaRequired = false,
  ) {
    super(message);
  }
}

/** The password was right but the account may not log in (deleted, deactivated, unconfirmed): HTTP 403. */
export class AccountRefusedError extends RefusedError {}

/**
 * Why an account may not log in, or null. The one statement of the rule: login refuses with it,
 * and every session check applies the same state (deleted, deactivated, unconfirmed).
 */
export function accountRefusal(
  user: Pick<UserRow, 'deleted_at' | 'active' | 'confirmed' | 'local'>,
  settings: Pick<AuthSettings, 'requireConfirmation'>,
): string | null {
  if (user.deleted_at !== null) return 'This account has been deleted';
  if (!user.active) return 'This account has been deactivated';
  if (!user.local) return 'Remote accounts cannot log in here';
  if (settings.requireConfirmation && !user.confirmed) return 'This account has not confirmed its email address yet';
  return null;
}

export interface LoginInput {
  /** Nickname or email, case-insensitively. */
  readonly login: string;
  readonly password: string;
  /** A TOTP code or a backup code, when MFA is on. */
  readonly totp?: string | null;
  /** The client address, for the per-address limit. */
  readonly address: string;
}

export interface Session {
  /** The bearer token: returned once, stored only as its hash. */
  readonly token: string;
  readonly expiresAt: Date | null;
  readonly user: UserRow;
}

// Compared against when the login names nobody or an account without a password, at the
// configured cost, so such a miss costs as long as a wrong password and reveals nothing.
const dummyHashes = new Map<number, Promise<string>>();

function dummyHash(cost: number, passwords: LoginThrottle['passwords']): Promise<string> {
  let hash = dummyHashes.get(cost);
  if (!hash) {
    hash = passwords.hash('not-a-password-of-anyone', cost);
    dummyHashes.set(cost, hash);
    // A pool closed mid-hash must not leave a failed promise here for every later login.
    hash.catch(() => dummyHashes.delete(cost));
  }
  return hash;
}

/**
 * Checks the credentials and opens a session: an 'access' token (hashed in the tokens table, with
 * expiry), last_login_at, and, when MFA is on, the second factor consumed in the same transaction.
 * Order matters: the attempt is counted first (per address, per account and address, per account:
 * login-throttle.ts; checked and counted in one database transaction, so parallel guesses, on one
 * instance or several, cannot all pass the check), then the password (so the account state is
 * never revealed to someone without it), then the account state, then the second factor. A wrong
 * password or code stays counted; an attempt that proves the password gives its slots back, and a
 * success forgives the account's earlier failures but not those of attempts still running beside
 * it. The password is checked off the event loop (throttle.passwords), and so is a backup code,
 * before the row is locked; past the throttle's bound of logins hashing at once (the password, a
 * re-hash, a backup code's compares) an attempt is refused with 503 and given back, and the database work of logins runs in a lane of its own, so
 * a burst leaves connections for other requests.
 */
export async function login(ctx: LibContext, settings: AuthSettings, throttle: LoginThrottle, input: LoginInput): Promise<Session> {
  const now = ctx.now();
  const { found, slots } = await throttle.inLane(async () => {
    // The person signing in types their own nickname or address: among local accounts (lib/user/find.ts).
    const user = await findUser(ctx.db, input.login, { localOnly: true, includeDeleted: true, nicknameWins: false });
    const accountKey = LoginThrottle.accountKey(input.login, user?.id ?? null);
    const taken: LoginSlots = await throttle.take(ctx.db, { address: input.address, accountKey, userId: user?.id ?? null }, now.getTime());
    return { found: user, slots: taken };
  });
  let counted = true;
  let succeeded = false;
  let leave: (() => void) | null = null;
  try {
    try {
      leave = throttle.admit();
    } catch (error) {
      // Refused for load before the password was read: not an attempt.
      counted = false;
      throw error;
    }
    let passwordOk = false;
    if (found?.password_hash) passwordOk = await throttle.passwords.verify(input.password, found.password_hash);
    else await throttle.passwords.verify(input.password, await dummyHash(settings.bcryptCost, throttle.passwords));
    if (!found || !passwordOk) throw new LoginFailedError('Invalid login or password');
    // The password is right: from here only a wrong second factor counts as a failure.
    counted = false;
    const refusal = accountRefusal(found, settings);
    if (refusal) throw new AccountRefusedError(refusal);
    if (found.mfa_enabled && !input.totp) throw new LoginFailedError('A two-factor authentication code is required', true);

    const rehash = costOf(found.password_hash!) < settings.bcryptCost ? await throttle.passwords.hash(input.password, settings.bcryptCost) : null;
    const checked = await checkBackupCode(throttle.passwords, found.mfa_enabled ? found.mfa_backup_codes : [], input.totp ?? '');
    // Admitted until here: the re-hash and a backup code's ten compares are hashing under way too.
    leave();
    const session = await throttle.inLane(() =>
      ctx.db.transaction().execute(async (trx) => {
        const user = await trx.selectFrom('users').selectAll().where('id', '=', found.id).forUpdate().executeTakeFirstOrThrow();
        // Re-checked under the row lock: a deactivate or reset_mfa that landed meanwhile wins.
        const again = accountRefusal(user, settings);
        if (again) throw new AccountRefusedError(again);
        if (user.mfa_enabled) {
          if (!input.totp) throw new LoginFailedError('A two-factor authentication code is required', true);
          if (!(await verifySecondFactor(trx, user, checked, now))) return null;
        }
        const issued = await issueToken(trx, { kind: 'access', userId: user.id, now, ttlMs: settings.sessionTtlMs });
        const updated = await trx
          .updateTable('users')
          .set({ last_login_at: now, ...(rehash ? { password_hash: rehash } : {}) })
          .where('id', '=', user.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        return { token: issued.token, expiresAt: issued.expiresAt, user: updated };
      }),
    );
    if (!session) {
      counted = true;
      throw new LoginFailedError('Invalid two-factor authentication code', true);
    }
    succeeded = true;
    // The session is committed: a lost count cannot take it back, so it is not a reason to fail.
    await throttle.inLane(() => throttle.succeeded(ctx.db, slots, found.id, input.address, now.getTime())).catch(() => undefined);
    return session;
  } finally {
    leave?.();
    // A failure here leaves the attempt counted: the safe side of a lost connection.
    if (!counted && !succeeded) await throttle.inLane(() => throttle.giveBack(ctx.db, slots)).catch(() => undefined);
  }
}

export interface Authenticated {
  readonly user: UserRow;
  readonly sessionId: number;
}

/**
 * The user behind a bearer token, or null: the token must be a live 'access' token (not revoked,
 * not used, not expired) of an account that may still log in. `sign_out` and `deactivate` take
 * effect on the next request.
 */
export async function authenticate(db: Db, token: string, now: Date, settings: Pick<AuthSettings, 'requireConfirmation'>): Promise<Authenticated | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const row = await db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .selectAll('users')
    .select('tokens.id as session_id')
    .where('tokens.token_hash', '=', hashToken(token))
    .where('tokens.kind', '=', 'access')
    .where('tokens.revoked_at', 'is', null)
    .where('tokens.used_at', 'is', null)
    .where((eb) => eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', now)]))
    .executeTakeFirst();
  if (!row) return null;
  const { session_id: sessionId, ...user } = row;
  if (accountRefusal(user, settings)) return null;
  return { user, sessionId };
}

/** Ends one session (the token presented); other sessions of the user stay. */
export async function logout(db: Db, sessionId: number, now: Date): Promise<void> {
  await db.updateTable('tokens').set({ revoked_at: now }).where('id', '=', sessionId).where('revoked_at', 'is', null).execute();
}

export interface RegistrationSettings extends CreateUserSettings {
  /** CTL_REGISTRATIONS_OPEN: off, an invite token is needed. */
  readonly registrationsOpen: boolean;
  /** CTL_REQUIRE_CONFIRMATION: on, the account starts unconfirmed and gets a confirmation link. */
  readonly requireConfirmation: boolean;
}

export interface RegistrationInput {
  /** null: the email's local part (as `ctl user new bob@example.com`). */
  readonly nickname: string | null;
  readonly email: string;
  readonly name: string | null;
  readonly password: string;
  readonly inviteToken: string | null;
}

/**
 * A person creates their own account: the same plan, checks and insert as `ctl user new`
 * (lib/user/new.ts). With an invite token the invite is redeemed in the same transaction as
 * the account; without one, only while registrations are open.
 */
export async function register(ctx: LibContext, settings: RegistrationSettings, input: RegistrationInput): Promise<CreatedUser> {
  const newUser: NewUserInput = {
    nickname: input.nickname,
    email: input.email,
    name: input.name,
    password: input.password,
    confirmed: !settings.requireConfirmation,
  };
  if (input.inviteToken !== null) {
    return redeemInvite(ctx, input.inviteToken, newUser, settings);
  }
  const plan = planNewUser(newUser);
  if (!settings.registrationsOpen) throw new AccountRefusedError('Registration is by invitation only');
  return createUser(ctx, plan, settings, 'public');
}
