import type { FastifyInstance } from 'fastify';
import type { AppState } from '../state';
import { HttpError, clientAddress, errorBody } from '../http';
import { toApiUser } from '../account';
import { logout, register } from '../../auth/login';
import { passwordLogin } from '../../sso/password-login';
import { throttleRegistration } from '../../auth/registration-throttle';
import { beginMfa, confirmMfa, disableMfa, regenerateBackupCodes } from '../../auth/mfa';
import { ConflictError, NotFoundError } from '../../errors';
import { sendConfirmationMail } from '../confirmation-mail';
import { resetPasswordWithToken } from '../../user/reset_password';

const CODE = { type: 'string', minLength: 1, maxLength: 64 } as const;

/** Login, logout, registration, reset with a token, and MFA enrolment: /api/auth/... */
export function authRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;
  const authSettings = { bcryptCost: config.bcryptCost, sessionTtlMs: config.serve.sessionTtlMs, requireConfirmation: config.serve.requireConfirmation };
  const mfaSettings = { bcryptCost: config.bcryptCost, issuer: new URL(config.appUrl).host };

  app.post<{ Body: { login: string; password: string; totp?: string } }>(
    '/api/auth/login',
    {
      schema: {
        body: {
          type: 'object',
          required: ['login', 'password'],
          properties: {
            login: { type: 'string', minLength: 1, maxLength: 320 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
            totp: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request) => {
      const ctx = await state.lib(request);
      const { login: who, password, totp } = request.body;
      const session = await passwordLogin(ctx, { auth: authSettings, sso: config.sso }, state.loginThrottle, {
        login: who,
        password,
        totp: totp || null,
        address: clientAddress(request),
      });
      return { token: session.token, expiresAt: session.expiresAt, user: toApiUser(session.user, config.serve.termsVersion) };
    },
  );

  app.post('/api/auth/logout', { onRequest: state.requireAuth }, async (request) => {
    await logout(await state.db(request), request.auth!.sessionId, state.now());
    return { message: 'Logged out' };
  });

  app.post<{ Body: { email: string; password: string; username?: string; name?: string; confirm_password?: string; inviteToken?: string } }>(
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
      const created = await throttleRegistration(state.loginThrottle, clientAddress(request), ctx.now().getTime(), () =>
        register(
          ctx,
          { ...config, ...config.serve },
          {
            nickname: body.username ?? null,
            email: body.email,
            name: body.name ?? null,
            password: body.password,
            inviteToken: body.inviteToken ?? null,
          },
        ),
      );
      const mailed = created.confirmation ? await sendConfirmationMail(state, created.user, created.confirmation) : false;
      const row = await (await state.db(request)).selectFrom('users').selectAll().where('id', '=', created.user.id).executeTakeFirstOrThrow();
      return reply.code(201).send({
        message: created.confirmation ? 'User registered; confirm your email address with the link we sent' : 'User registered',
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

  app.post('/api/auth/2fa/enable', { onRequest: state.requireAuth }, async (request) => {
    const enrolment = await beginMfa(await state.lib(request), request.auth!.user.id, mfaSettings);
    return { otpauthUrl: enrolment.otpauthUrl, secret: enrolment.secret, backupCodes: enrolment.backupCodes };
  });

  const codeBody = { body: { type: 'object', required: ['token'], properties: { token: CODE } } };
  const wrongCode = () => new HttpError(400, errorBody(400, 'Invalid two-factor authentication code'));

  app.post<{ Body: { token: string } }>('/api/auth/2fa/confirm', { onRequest: state.requireAuth, schema: codeBody }, async (request) => {
    if (!(await confirmMfa(await state.lib(request), request.auth!.user.id, request.body.token))) throw wrongCode();
    return { message: 'Two-factor authentication enabled', twoFactorEnabled: true };
  });

  app.post<{ Body: { token: string } }>('/api/auth/2fa/disable', { onRequest: state.requireAuth, schema: codeBody }, async (request) => {
    if (!(await disableMfa(await state.lib(request), request.auth!.user.id, request.body.token))) throw wrongCode();
    return { message: 'Two-factor authentication disabled', twoFactorEnabled: false };
  });

  app.post<{ Body: { token: string } }>('/api/auth/2fa/backup/regenerate', { onRequest: state.requireAuth, schema: codeBody }, async (request) => {
    const codes = await regenerateBackupCodes(await state.lib(request), request.auth!.user.id, request.body.token, mfaSettings);
    if (!codes) throw wrongCode();
    return { backupCodes: codes };
  });
}
