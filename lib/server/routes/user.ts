import type { FastifyInstance } from 'fastify';
import type { AppState } from '../state';
import { HttpError, clientAddress } from '../http';
import { acceptTerms, MAX_PLUGINS, putSettings, setPlugins, termsStatus, toApiUser } from '../account';
import { sendConfirmationMail } from '../confirmation-mail';
import { ConflictError, NotFoundError } from '../../errors';
import { findUser } from '../../user/find';
import { emailKey } from '../../validate';
import { softDeleteUser } from '../../user/rm';
import { inspectToken } from '../../tokens/single-use';
import { confirmEmail, createConfirmation } from '../../tokens/confirmation';
import { limitMailRequest } from '../mail-request-limit';
import { pluginListAfter, requireCodeToDelete, tokenIsFor } from './librechat-user';

/** The reference's 400 for a bad verification token, word for word. */
export const INVALID_VERIFICATION = { error: 'Invalid or expired verification token' } as const;

/** The Users API (/api/user/...) and the balance, as the LibreChat reference describes them. */
export function userRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;
  const terms = config.serve.termsVersion;
  const auth = { onRequest: state.requireAuth };

  app.get('/api/user', auth, async (request) => toApiUser(request.auth!.user, terms));

  app.post<{ Body: { plugins?: string[]; pluginKey?: string; action?: 'install' | 'uninstall'; auth?: unknown } }>(
    '/api/user/plugins',
    {
      ...auth,
      schema: {
        body: {
          type: 'object',
          properties: {
            plugins: { type: 'array', maxItems: MAX_PLUGINS, items: { type: 'string', minLength: 1, maxLength: 64 } },
            // LibreChat's client: one plugin at a time (librechat-user.ts).
            pluginKey: { type: 'string', minLength: 1, maxLength: 64 },
            action: { type: 'string', enum: ['install', 'uninstall'] },
            auth: { type: ['object', 'null'] },
            isEntityTool: { type: 'boolean' },
          },
        },
      },
    },
    async (request) => {
      const body = request.body;
      const user = request.auth!.user;
      const plugins = body.plugins ?? pluginListAfter(user.plugins, body);
      return toApiUser(await setPlugins(await state.lib(request), user, plugins), terms);
    },
  );

  app.delete<{ Body: { token?: string; backupCode?: string } | undefined }>('/api/user/delete', auth, async (request) => {
    if (!config.serve.allowAccountDeletion) throw new HttpError(403, { error: 'Forbidden', message: 'Account deletion is disabled' });
    // LibreChat's rule: with two-factor on, deleting the account takes a code (librechat-user.ts).
    await requireCodeToDelete(await state.lib(request), state.hashPool, request.auth!.user, request.body, {
      maxFailures: config.serve.loginMaxFailures,
      windowMs: config.serve.loginWindowMs,
    });
    // The same soft delete as `ctl user rm` (restorable for CTL_RETENTION_DAYS, every token revoked,
    // never the last active admin); the audit row's actor is app:<nickname>.
    await softDeleteUser(await state.lib(request), request.auth!.user.nickname, config);
    return { message: 'User account deleted successfully' };
  });

  app.post<{ Body: { userId?: string; email?: string; token: string } }>(
    '/api/user/verify',
    {
      schema: {
        body: {
          type: 'object',
          required: ['token'],
          properties: {
            userId: { type: 'string', minLength: 1, maxLength: 32 },
            // LibreChat's client names the account by its email instead.
            email: { type: 'string', minLength: 1, maxLength: 320 },
            token: { type: 'string', minLength: 1, maxLength: 256 },
          },
        },
      },
    },
    async (request) => {
      const ctx = await state.lib(request);
      const { userId, email, token } = request.body;
      const found = await inspectToken(ctx.db, 'email_confirmation', token, ctx.now());
      // The token must be the one mailed to this user: a token of someone else is as bad as none.
      if (found.status !== 'valid' || !(await tokenIsFor(ctx.db, found.userId!, userId, email))) throw new HttpError(400, INVALID_VERIFICATION);
      try {
        await confirmEmail(ctx, token);
      } catch (error) {
        if (error instanceof NotFoundError || error instanceof ConflictError) throw new HttpError(400, INVALID_VERIFICATION);
        throw error;
      }
      return { message: 'Email verified successfully' };
    },
  );

  app.post<{ Body: { email: string } }>(
    '/api/user/verify/resend',
    {
      schema: { body: { type: 'object', required: ['email'], properties: { email: { type: 'string', minLength: 3, maxLength: 320 } } } },
    },
    async (request, reply) => {
      // Keyed by the email rule, so look-alikes of one address share its limit.
      const email = emailKey(request.body.email.trim());
      await limitMailRequest(
        await state.db(request),
        { perEmail: state.resendPerEmail, perAddress: state.resendPerAddress },
        { email, address: clientAddress(request), at: state.now().getTime() },
        { error: 'Too many requests', message: 'Please wait before requesting another verification email' },
      );
      // After the answer, as requestPasswordReset's: its time must not tell an unconfirmed account.
      state.afterAnswer(request, reply, async (ctx) => {
        const user = await findUser(ctx.db, email, { localOnly: true, nicknameWins: false });
        if (user && user.active && !user.confirmed && user.email && emailKey(user.email) === email) {
          const issued = await createConfirmation(ctx, { id: user.id, nickname: user.nickname }, config);
          if (issued.confirmation) await sendConfirmationMail(state, user, issued.confirmation);
        }
      });
      return { message: 'If an unconfirmed account uses this address, a verification email is on its way' };
    },
  );

  // LibreChat's client reads termsAcceptedAt; acceptedAt and termsVersion are the document's.
  app.get('/api/user/terms', auth, async (request) => {
    const status = termsStatus(request.auth!.user, terms);
    return { ...status, termsAcceptedAt: status.acceptedAt };
  });

  app.post('/api/user/terms/accept', auth, async (request) => {
    const status = await acceptTerms(await state.lib(request), request.auth!.user, terms);
    return { message: 'Terms accepted', termsAccepted: true, termsAcceptedAt: status.acceptedAt };
  });

  app.get('/api/user/settings', auth, async (request) => request.auth!.user.settings);

  app.put<{ Body: Record<string, unknown> }>('/api/user/settings', { ...auth, schema: { body: { type: 'object' } } }, async (request) =>
    putSettings(await state.lib(request), request.auth!.user, request.body),
  );

  app.get('/api/balance', auth, async (request) => {
    const user = request.auth!.user;
    // tokenCredits and autoRefillEnabled are LibreChat's (TBalanceResponse); the rest the document's.
    return {
      tokenCredits: Number(user.token_balance),
      autoRefillEnabled: false,
      balance: Number(user.balance),
      currency: config.serve.currency,
      tokenBalance: Number(user.token_balance),
    };
  });
}
