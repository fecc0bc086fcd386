import type { UserRow } from '../db/schema';

/** The stable, camelCase shape of a user in JSON, NDJSON and CSV output (CONVENTIONS.md). */
export interface UserJson {
  readonly id: number;
  readonly nickname: string;
  readonly email: string | null;
  readonly name: string;
  readonly bio: string;
  readonly local: boolean;
  readonly admin: boolean;
  readonly moderator: boolean;
  readonly locked: boolean;
  readonly confirmed: boolean;
  readonly active: boolean;
  readonly deleted: boolean;
  readonly deletedAt: Date | null;
  readonly tags: readonly string[];
  readonly mfaEnabled: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly lastLoginAt: Date | null;
}

/** The columns a UserJson needs: never the password hash or MFA secrets. */
export const USER_COLUMNS = [
  'id',
  'nickname',
  'email',
  'name',
  'bio',
  'local',
  'admin',
  'moderator',
  'locked',
  'confirmed',
  'active',
  'deleted_at',
  'tags',
  'mfa_enabled',
  'created_at',
  'updated_at',
  'last_login_at',
] as const;

export type UserPublicRow = Pick<UserRow, (typeof USER_COLUMNS)[number]>;

export function toUserJson(row: UserPublicRow): UserJson {
  return {
    id: row.id,
    nickname: row.nickname,
    email: row.email,
    name: row.name,
    bio: row.bio,
    local: row.local,
    admin: row.admin,
    moderator: row.moderator,
    locked: row.locked,
    confirmed: row.confirmed,
    active: row.active,
    deleted: row.deleted_at !== null,
    deletedAt: row.deleted_at,
    tags: row.tags,
    mfaEnabled: row.mfa_enabled,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastLoginAt: row.last_login_at,
  };
}
