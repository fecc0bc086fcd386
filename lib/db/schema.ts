import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely';

/**
 * The one description of every table. Migrations create exactly these columns
 * (test/lib/db/schema.test.ts compares this file with the live catalog on both backends).
 */
export interface Database {
  users: UsersTable;
  invites: InvitesTable;
  tokens: TokensTable;
  activities: ActivitiesTable;
  follows: FollowsTable;
  audit_log: AuditLogTable;
  avatars: AvatarsTable;
  login_limits: LoginLimitsTable;
  two_factor_challenges: TwoFactorChallengesTable;
  mfa_reenrolments: MfaReenrolmentsTable;
  console_sessions: ConsoleSessionsTable;
  external_identities: ExternalIdentitiesTable;
  saml_assertions: SamlAssertionsTable;
}

/** What a lib/ function queries through: the database, or a transaction it is part of. */
export type Db = Kysely<Database> | Transaction<Database>;

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UsersTable {
  id: Generated<number>;
  nickname: string;
  email: string | null;
  name: string;
  bio: ColumnType<string, string | undefined, string>;
  password_hash: string | null;
  local: ColumnType<boolean, boolean | undefined, boolean>;
  /** Lower-cased host part of a remote nickname, derived by the database; null for local users. */
  instance: ColumnType<string | null, never, never>;
  admin: ColumnType<boolean, boolean | undefined, boolean>;
  moderator: ColumnType<boolean, boolean | undefined, boolean>;
  locked: ColumnType<boolean, boolean | undefined, boolean>;
  confirmed: ColumnType<boolean, boolean | undefined, boolean>;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  /** Lower-cased, sorted, unique: kept in the row so tag/untag are one UPDATE and list --tag uses a GIN index. */
  tags: ColumnType<string[], string[] | undefined, string[]>;
  deleted_at: NullableTimestamp;
  mfa_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  mfa_totp_secret: string | null;
  /** bcrypt hashes of the backup codes, never the codes. */
  mfa_backup_codes: ColumnType<string[], string[] | undefined, string[]>;
  last_login_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
  /** The terms version the user accepted last, and when (the app asks again when CTL_TERMS_VERSION moves). */
  terms_version: string | null;
  terms_accepted_at: NullableTimestamp;
  /** The app's per-user settings (theme, language, ...): a JSON object. */
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  plugins: ColumnType<string[], string[] | undefined, string[]>;
  /** numeric(14,2), read as a number. */
  balance: ColumnType<number, number | string | undefined, number | string>;
  token_balance: ColumnType<number, number | undefined, number>;
  /** The avatar's URL path, or null. */
  avatar: string | null;
  /** The last TOTP time step accepted: a code of that step or an earlier one is refused (no replay). */
  mfa_last_step: number | null;
  /** How the account proves who it is: a password here ('local') or the identity provider that created or claimed it. */
  provider: ColumnType<AuthProvider, AuthProvider | undefined, AuthProvider>;
}

export type SsoProvider = 'ldap' | 'oidc' | 'saml';
export type AuthProvider = 'local' | SsoProvider;

/** An identity provider's subject (LDAP DN, OpenID `sub`, SAML NameID) tied to an account. */
export interface ExternalIdentitiesTable {
  id: Generated<number>;
  provider: SsoProvider;
  subject: string;
  user_id: number;
  created_at: CreatedAt;
  last_login_at: NullableTimestamp;
}

/** Ids of consumed SAML assertions, kept until they expire so a replay is refused by every instance. */
export interface SamlAssertionsTable {
  assertion_id: string;
  expires_at: Date;
}

export type InviteType = 'one_time' | 'date_limited' | 'reusable' | 'reusable_date_limited';

export interface InvitesTable {
  id: Generated<number>;
  token_hash: string;
  /** First characters of the token: enough to tell invites apart in a list, useless to redeem one. */
  token_prefix: string;
  invite_type: InviteType;
  max_use: number | null;
  uses: ColumnType<number, number | undefined, number>;
  used: ColumnType<boolean, boolean | undefined, boolean>;
  /** The last day the invite works (UTC), as 'YYYY-MM-DD'. */
  expires_at: string | null;
  email: string | null;
  name: string | null;
  revoked_at: NullableTimestamp;
  created_at: CreatedAt;
}

export type TokenKind = 'access' | 'refresh' | 'authorization' | 'password_reset' | 'email_confirmation';

export interface TokensTable {
  id: Generated<number>;
  kind: TokenKind;
  token_hash: string;
  user_id: number;
  expires_at: NullableTimestamp;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: CreatedAt;
  /** The refresh-token family an access or refresh token belongs to (null: not part of one). */
  family: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A login whose password was right and whose second factor is still owed (POST /api/auth/2fa/verify-temp). */
export interface TwoFactorChallengesTable {
  id: Generated<number>;
  token_hash: string;
  user_id: number;
  /** A hash of the password hash when the challenge began: a password change ends the challenge. */
  password_fingerprint: string;
  failures: ColumnType<number, number | undefined, number>;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

/** A new TOTP secret and backup codes for a user whose two-factor is on, in force once confirmed. */
export interface MfaReenrolmentsTable {
  user_id: number;
  totp_secret: string;
  backup_codes: string[];
  created_at: Timestamp;
}

export interface ActivitiesTable {
  id: Generated<number>;
  actor_id: number;
  type: string;
  object: string | null;
  data: ColumnType<unknown, string | undefined, string>;
  created_at: CreatedAt;
}

export interface FollowsTable {
  id: Generated<number>;
  follower_id: number;
  following_id: number;
  state: ColumnType<string, string | undefined, string>;
  created_at: CreatedAt;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: CreatedAt;
  actor: string;
  verb: string;
  target_user_id: number | null;
  target_nickname: string | null;
  reason: string | null;
  details: ColumnType<unknown, string | undefined, never>;
}

export type AvatarType = 'image/png' | 'image/jpeg' | 'image/webp';

export interface AvatarsTable {
  user_id: number;
  content_type: AvatarType;
  data: Buffer;
  updated_at: Timestamp;
}

/** One counted attempt of a rate limit (lib/auth/limits.ts); `key` is the rule and a hash of what is counted. */
export interface LoginLimitsTable {
  id: Generated<number>;
  key: string;
  at: Date;
  expires_at: Date;
}

/** An admin console session: its login's access token, the CSRF token of its forms, its last use. */
export interface ConsoleSessionsTable {
  token_id: number;
  csrf_token: string;
  last_seen_at: Timestamp;
  created_at: CreatedAt;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type InviteRow = Selectable<InvitesTable>;
export type AuditRow = Selectable<AuditLogTable>;
