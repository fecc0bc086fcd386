import type { FastifyInstance } from 'fastify';
import type { AppState } from '../state';
import { HttpError, clientAddress, errorBody } from '../http';
import { toApiUser } from '../account';
import { register } from '../../auth/login';
import { throttleRegistration } from '../../auth/registration-throttle';
import { ConflictError, NotFoundError } from '../../errors';
import { sendConfirmationMail } from '../confirmation-mail';
import { resetPasswordWithToken } from '../../user/reset_password';

/**
 * Registration and reset with a token: /api/auth/... (login, logout, refresh and two-factor are in
 * librechat-auth.ts and librechat-2fa.ts).
 */
export function authRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;

  app.post<{ Body: { email: string; password: string; username?: string; name?: string; confirm_password?: string; inviteToken?: string; token?: string } }>(
    '/api/auth/register',
    {
      schema: {
        body: {
          type: 'object',
          required: ['email', 'password'],
          properties: {
            email: { type: 'string', minLength: 1, maxLength: 320 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
            confirm_password: { type: 'string', maxLength: 1024 },
            username: { type: 'string', minLength: 1, maxLength: 64 },
            name: { type: 'string', maxLength: 256 },
            inviteToken: { type: 'string', minLength: 1, maxLength: 256 },
            // LibreChat's client sends the invite as `token`.
            token: { type: 'string', minLength: 1, maxLength: 256 },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.confirm_password !== undefined && body.confirm_password !== body.password) {
        throw new HttpError(400, errorBody(400, 'Passwords do not match'));
      }
      const ctx = await state.lib(request);
      const created = await throttleRegistration(ctx.db, state.loginThrottle, clientAddress(request), ctx.now().getTime(), () =>
        register(
          ctx,
          { ...config, ...config.serve },
          {
            nickname: body.username ?? null,
            email: body.email,
            name: body.name ?? null,
            password: body.password,
            inviteToken: body.inviteToken ?? body.token ?? null,
          },
        ),
      );
      const mailed = created.confirmation ? await sendConfirmationMail(state, created.user, created.confirmation) : false;
      const row = await (await state.db(request)).selectFrom('users').selectAll().where('id', '=', created.user.id).executeTakeFirstOrThrow();
      return reply.code(201).send({
        message: !created.confirmation
          ? 'User registered'
          : mailed
            ? 'User registered; confirm your email address with the link we sent'
            : 'User registered; confirm your email address: no mail could be sent, so ask your administrator for a confirmation link',
        user: toApiUser(row, config.serve.termsVersion),
        emailVerificationRequired: created.confirmation !== null,
        ...(created.confirmation ? { verificationEmailSent: mailed } : {}),
      });
    },
  );

  app.post<{ Body: { token: string; password: string; confirm_password?: string } }>(
    '/api/auth/password_reset',
    {
      schema: {
        body: {
          type: 'object',
          required: ['token', 'password'],
          properties: {
            token: { type: 'string', minLength: 1, maxLength: 256 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
            confirm_password: { type: 'string', maxLength: 1024 },
          },
        },
      },
    },
    async (request) => {
      const { token, password, confirm_password: confirm } = request.body;
      if (confirm !== undefined && confirm !== password) throw new HttpError(400, errorBody(400, 'Passwords do not match'));
      try {
        await resetPasswordWithToken(await state.lib(request), token, password, config);
      } catch (error) {
        if (error instanceof NotFoundError || error instanceof ConflictError) {
          throw new HttpError(400, { error: 'Invalid or expired password reset token', message: error.message });
        }
        throw error;
      }
      return { message: 'Password reset successfully' };
    },
  );
}
