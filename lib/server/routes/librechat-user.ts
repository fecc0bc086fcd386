import type { FastifyInstance } from 'fastify';
import type { AppState } from '../state';
import type { Db, UserRow } from '../../db/schema';
import type { LibContext } from '../../lib-context';
import { HttpError, errorBody } from '../http';
import { putSettings } from '../account';
import { emailKey } from '../../validate';
import { checkUserBackupCode, judgeCheckedCode, verifyLimitedSecondFactor, type BackupCodeHasher } from '../../auth/mfa';
import type { SecondFactorLimits } from '../../auth/second-factor-limit';

/**
 * The Users API where LibreChat's client speaks it differently from the document: one plugin at a
 * time, verification by email, the 2FA code account deletion takes, favourites and preferences.
 */

/** The plugin list after LibreChat's `{pluginKey, action}`: install appends, uninstall removes. */
export function pluginListAfter(current: readonly string[], body: { pluginKey?: string; action?: string }): string[] {
  if (body.pluginKey === undefined || body.action === undefined) {
    throw new HttpError(400, errorBody(400, 'Send {plugins: [...]} or {pluginKey, action: "install" | "uninstall"}'));
  }
  const rest = current.filter((p) => p !== body.pluginKey);
  return body.action === 'install' ? [...rest, body.pluginKey] : rest;
}

/** Whether a confirmation token owned by `ownerId` is the one for the account the body names (id or email). */
export async function tokenIsFor(db: Db, ownerId: number, userId: string | undefined, email: string | undefined): Promise<boolean> {
  if ((userId === undefined) === (email === undefined)) return false;
  if (userId !== undefined) return String(ownerId) === userId;
  const owner = await db.selectFrom('users').select('email').where('id', '=', ownerId).executeTakeFirst();
  // The email rule's key, as every other lookup by email (a look-alike names the same account).
  return !!owner?.email && emailKey(owner.email) === emailKey(email!.trim());
}

/**
 * LibreChat's rule: deleting an account that has two-factor on takes a current code (TOTP or
 * backup), consumed like a login's. 400 without one or with a wrong one.
 */
export async function requireCodeToDelete(
  ctx: LibContext,
  verifier: Pick<BackupCodeHasher, 'verify'>,
  user: UserRow,
  body: { token?: string; backupCode?: string } | undefined,
  limits: SecondFactorLimits,
): Promise<void> {
  if (!user.mfa_enabled) return;
  const code = body?.token ?? body?.backupCode;
  if (typeof code !== 'string' || code === '') {
    throw new HttpError(400, errorBody(400, 'Two-factor authentication is on: send a code (token or backupCode) to delete the account'));
  }
  const checked = await checkUserBackupCode(ctx.db, verifier, user.id, code, ctx.now(), limits);
  const ok = await judgeCheckedCode(ctx.db, checked, () =>
    ctx.db.transaction().execute(async (trx) => {
      const locked = await trx.selectFrom('users').selectAll().where('id', '=', user.id).forUpdate().executeTakeFirstOrThrow();
      return verifyLimitedSecondFactor(trx, locked, checked, ctx.now(), limits);
    }),
  );
  if (!ok) throw new HttpError(400, errorBody(400, 'Invalid two-factor authentication code'));
}

const MAX_FAVORITES = 200;
const MAX_PREFERENCES = 32;

/** GET/POST /api/user/settings/favorites and PATCH /api/user/preferences, kept in the user's settings. */
export function librechatUserRoutes(app: FastifyInstance, state: AppState): void {
  const auth = { onRequest: state.requireAuth };
  const settingsOf = (user: UserRow): Record<string, unknown> => user.settings ?? {};

  app.get('/api/user/settings/favorites', auth, async (request) => {
    const favorites = settingsOf(request.auth!.user).favorites;
    return Array.isArray(favorites) ? (favorites as unknown[]) : [];
  });

  app.post<{ Body: { favorites: Record<string, unknown>[] } }>(
    '/api/user/settings/favorites',
    {
      ...auth,
      schema: {
        body: {
          type: 'object',
          required: ['favorites'],
          properties: { favorites: { type: 'array', maxItems: MAX_FAVORITES, items: { type: 'object', maxProperties: 8 } } },
        },
      },
    },
    async (request) => {
      const user = request.auth!.user;
      const saved = await putSettings(await state.lib(request), user, { ...settingsOf(user), favorites: request.body.favorites });
      return saved.favorites;
    },
  );

  app.patch<{ Body: Record<string, unknown> }>(
    '/api/user/preferences',
    { ...auth, schema: { body: { type: 'object', maxProperties: MAX_PREFERENCES } } },
    async (request) => {
      const user = request.auth!.user;
      const before = settingsOf(user).preferences;
      const preferences = { ...(before && typeof before === 'object' && !Array.isArray(before) ? before : {}), ...request.body };
      const saved = await putSettings(await state.lib(request), user, { ...settingsOf(user), preferences });
      return { updated: true, preferences: saved.preferences };
    },
  );
}
