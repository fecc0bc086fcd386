import { randomBytes } from 'node:crypto';
import type { LibContext } from '../lib-context';
import type { AvatarType, UserRow } from '../db/schema';
import { writeAudit } from '../audit/audit';
import { NotFoundError, UsageError } from '../errors';
import { hasLoneSurrogate } from '../validate';
import { quoteInput } from '../text';

/**
 * What a signed-in user does to their own account through the Users API: plugins, settings, terms,
 * balance, avatar. Each change is one transaction with its audit row (actor `app:<nickname>`).
 */

/** LibreChat's TUser, from a user row: the shape of GET /api/user and of every API answer about a user. */
export interface ApiUser {
  readonly id: string;
  readonly email: string | null;
  readonly name: string;
  readonly username: string;
  /** LibreChat's SystemRoles: ADMIN or USER (a moderator is a USER there; see `moderator`). */
  readonly role: 'ADMIN' | 'USER';
  readonly moderator: boolean;
  /** '' without an avatar: TUser's avatar is a string. */
  readonly avatar: string;
  readonly provider: 'local';
  readonly plugins: readonly string[];
  readonly emailVerified: boolean;
  readonly termsAccepted: boolean;
  readonly twoFactorEnabled: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastLoginAt: string | null;
}

export function toApiUser(row: UserRow, termsVersion: string): ApiUser {
  return {
    id: String(row.id),
    email: row.email,
    name: row.name,
    username: row.nickname,
    role: row.admin ? 'ADMIN' : 'USER',
    moderator: row.moderator,
    avatar: row.avatar ?? '',
    provider: 'local',
    plugins: row.plugins,
    emailVerified: row.confirmed,
    termsAccepted: row.terms_version === termsVersion,
    twoFactorEnabled: row.mfa_enabled,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    lastLoginAt: row.last_login_at ? row.last_login_at.toISOString() : null,
  };
}

export const MAX_PLUGINS = 100;
export const PLUGIN_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** Replaces the user's enabled plugins (deduplicated, order kept). */
export async function setPlugins(ctx: LibContext, user: UserRow, plugins: readonly string[]): Promise<UserRow> {
  const bad = plugins.find((p) => !PLUGIN_KEY.test(p));
  if (bad !== undefined) throw new UsageError(`invalid plugin identifier ${quoteInput(bad)}`);
  const unique = [...new Set(plugins)];
  if (unique.length > MAX_PLUGINS) throw new UsageError(`at most ${MAX_PLUGINS} plugins`);
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('users')
      .set({ plugins: unique, updated_at: ctx.now() })
      .where('id', '=', user.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, { verb: 'plugins', targetUserId: user.id, targetNickname: user.nickname, details: { plugins: unique } });
    return row;
  });
}

export const MAX_SETTINGS_BYTES = 16 * 1024;

/** Every string of a JSON value, keys included. */
function* stringsOf(value: unknown): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* stringsOf(item);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      yield key;
      yield* stringsOf(item);
    }
  }
}

/** Replaces the user's settings object (theme, language, ...), at most 16 KiB of JSON. */
export async function putSettings(ctx: LibContext, user: UserRow, settings: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw new UsageError('settings must be a JSON object');
  const text = JSON.stringify(settings);
  if (Buffer.byteLength(text) > MAX_SETTINGS_BYTES) throw new UsageError(`settings are too large: at most ${MAX_SETTINGS_BYTES} bytes of JSON`);
  // Neither reaches jsonb: NUL it cannot hold, a lone surrogate's escape it refuses (a 500 before).
  for (const value of stringsOf(settings)) {
    if (value.includes('\0')) throw new UsageError('settings contain a NUL character');
    if (hasLoneSurrogate(value)) throw new UsageError('settings are not valid Unicode (a lone surrogate)');
  }
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('users')
      .set({ settings: text, updated_at: ctx.now() })
      .where('id', '=', user.id)
      .returning('settings')
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, { verb: 'settings', targetUserId: user.id, targetNickname: user.nickname, details: { keys: Object.keys(settings).sort() } });
    return row.settings;
  });
}

export interface TermsStatus {
  readonly termsAccepted: boolean;
  readonly termsVersion: string | null;
  readonly acceptedAt: string | null;
}

/** Accepted means: the version the user accepted is the current one (CTL_TERMS_VERSION). */
export function termsStatus(user: UserRow, currentVersion: string): TermsStatus {
  return {
    termsAccepted: user.terms_version === currentVersion,
    termsVersion: user.terms_version,
    acceptedAt: user.terms_accepted_at ? user.terms_accepted_at.toISOString() : null,
  };
}

/** Records that the user accepted the current terms (again: the time moves on). */
export async function acceptTerms(ctx: LibContext, user: UserRow, currentVersion: string): Promise<TermsStatus> {
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('users')
      .set({ terms_version: currentVersion, terms_accepted_at: ctx.now(), updated_at: ctx.now() })
      .where('id', '=', user.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, ctx, {
      verb: 'terms_accept',
      targetUserId: user.id,
      targetNickname: user.nickname,
      details: { version: currentVersion, previous: user.terms_version },
    });
    return termsStatus(row, currentVersion);
  });
}

const EXTENSIONS: Record<AvatarType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/**
 * The image type from the bytes themselves (the name and the declared type are the client's
 * word): PNG, JPEG or WebP signatures, else null.
 */
export function sniffImage(data: Buffer): AvatarType | null {
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/** `/avatars/<id>-<32 hex>.<ext>`: the file name of an avatar, as the route matches it. */
export const AVATAR_FILE = /^(\d{1,15})-([0-9a-f]{32})\.(png|jpg|webp)$/;

/**
 * A fresh, unguessable path for each upload: an avatar is shown without credentials (an <img>),
 * so whoever has not been given its URL must not find it by counting ids, and an old URL dies
 * with the next upload.
 */
export function avatarPath(userId: number, type: AvatarType): string {
  return `/avatars/${userId}-${randomBytes(16).toString('hex')}.${EXTENSIONS[type]}`;
}

/** Stores the avatar (replacing the old one) and points the user at it. */
export async function saveAvatar(ctx: LibContext, user: UserRow, data: Buffer): Promise<{ url: string; type: AvatarType }> {
  const type = sniffImage(data);
  if (!type) throw new UsageError('The avatar must be a PNG, JPEG or WebP image');
  const url = avatarPath(user.id, type);
  const now = ctx.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('avatars')
      .values({ user_id: user.id, content_type: type, data, updated_at: now })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ content_type: type, data, updated_at: now }))
      .execute();
    await trx.updateTable('users').set({ avatar: url, updated_at: now }).where('id', '=', user.id).execute();
    await writeAudit(trx, ctx, { verb: 'avatar', targetUserId: user.id, targetNickname: user.nickname, details: { type, bytes: data.length } });
  });
  return { url, type };
}

/**
 * The avatar at `/avatars/<file>`: only under the path its last upload was given, and only while
 * its account is active and not deleted; else NotFoundError (the same answer as for no avatar).
 */
export async function loadAvatar(ctx: Pick<LibContext, 'db'>, file: string): Promise<{ type: AvatarType; data: Buffer; updatedAt: Date }> {
  const match = AVATAR_FILE.exec(file);
  if (!match) throw new NotFoundError('No such avatar');
  const row = await ctx.db
    .selectFrom('avatars')
    .innerJoin('users', 'users.id', 'avatars.user_id')
    .select(['avatars.content_type', 'avatars.data', 'avatars.updated_at'])
    .where('avatars.user_id', '=', Number(match[1]))
    .where('users.avatar', '=', `/avatars/${file}`)
    .where('users.active', '=', true)
    .where('users.deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row || EXTENSIONS[row.content_type] !== match[3]) throw new NotFoundError('No such avatar');
  return { type: row.content_type, data: row.data, updatedAt: row.updated_at };
}
