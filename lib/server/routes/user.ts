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
import { takeAll } from '../../auth/limits';

/** The reference's 400 for a bad verification token, word for word. */
export const INVALID_VERIFICATION = { error: 'Invalid or expired verification token' } as const;

/** The Users API (/api/user/...) and the balance, as the LibreChat reference describes them. */
export function userRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;
  const terms = config.serve.termsVersion;
  const auth = { onRequest: state.requireAuth };

  app.get('/api/user', auth, async (request) => toApiUser(request.auth!.user, terms));

  app.post<{ Body: { plugins: string[] } }>(
    '/api/user/plugins',
    {
      ...auth,
      schema: {
        body: {
          type: 'object',
          required: ['plugins'],
          properties: { plugins: { type: 'array', maxItems: MAX_PLUGINS, items: { type: 'string', minLength: 1, maxLength: 64 } } },
        },
      },
    },
    async (request) => toApiUser(await setPlugins(await state.lib(request), request.auth!.user, request.body.plugins), terms),
  );

  app.delete('/api/user/delete', auth, async (request) => {
    if (!config.serve.allowAccountDeletion) throw new HttpError(403, { error: 'Forbidden', message: 'Account deletion is disabled' });
    // The same soft delete as `ctl user rm` (restorable for CTL_RETENTION_DAYS, every token revoked,
    // never the last active admin); the audit row's actor is app:<nickname>.
    await softDeleteUser(await state.lib(request), request.auth!.user.nickname, config);
    return { message: 'User account deleted successfully' };
  });

  app.post<{ Body: { userId: string; token: string } }>(
    '/api/user/verify',
    {
      schema: {
        body: {
          type: 'object',
          required: ['userId', 'token'],
          properties: { userId: { type: 'string', minLength: 1, maxLength: 32 }, token: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (request) => {
      const ctx = await state.lib(request);
      const found = await inspectToken(ctx.db, 'email_confirmation', request.body.token, ctx.now());
      // The token must be the one mailed to this user: a token of someone else is as bad as none.
      if (found.status !== 'valid' || String(found.userId) !== request.body.userId) throw new HttpError(400, INVALID_VERIFICATION);
      try {
        await confirmEmail(ctx, request.body.token);
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
    async (request) => {
      // Keyed by the email rule, so look-alikes of one address share its limit.
      const email = emailKey(request.body.email.trim());
      const at = state.now().getTime();
      const address = clientAddress(request);
      // Counted whether or not the address has an account, so the answers never tell them apart.
      const taken = await takeAll(
        await state.db(request),
        [
          { rule: state.resendPerEmail.rule, key: email },
          { rule: state.resendPerAddress.rule, key: address },
        ],
        at,
      );
      if ('wait' in taken) {
        throw new HttpError(
          429,
          { error: 'Too many requests', message: 'Please wait before requesting another verification email' },
          { 'retry-after': String(Math.ceil(taken.wait / 1000)) },
        );
      }
      const ctx = await state.lib(request);
      const user = await findUser(ctx.db, email, { localOnly: true });
      if (user && user.active && !user.confirmed && user.email && emailKey(user.email) === email) {
        const issued = await createConfirmation(ctx, user.email, config);
        if (issued.confirmation) await sendConfirmationMail(state, user, issued.confirmation);
      }
      return { message: 'If an unconfirmed account uses this address, a verification email is on its way' };
    },
  );

  app.get('/api/user/terms', auth, async (request) => termsStatus(request.auth!.user, terms));

  app.post('/api/user/terms/accept', auth, async (request) => {
    await acceptTerms(await state.lib(request), request.auth!.user, terms);
    return { message: 'Terms accepted', termsAccepted: true };
  });

  app.get('/api/user/settings', auth, async (request) => request.auth!.user.settings);

  app.put<{ Body: Record<string, unknown> }>('/api/user/settings', { ...auth, schema: { body: { type: 'object' } } }, async (request) =>
    putSettings(await state.lib(request), request.auth!.user, request.body),
  );

  app.get('/api/balance', auth, async (request) => {
    const user = request.auth!.user;
    return { balance: Number(user.balance), currency: config.serve.currency, tokenBalance: Number(user.token_balance) };
  });
}
