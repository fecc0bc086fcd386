import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import type { AppState } from '../state';
import { HttpError, clientAddress, errorBody, UNAUTHORIZED } from '../http';
import { toApiUser } from '../account';
import { clearRefreshCookie, readRefreshCookie, refuseCrossOriginCookie, setRefreshCookie } from '../refresh-cookie';
import { authenticate, LoginFailedError } from '../../auth/login';
import { passwordLogin } from '../../sso/password-login';
import { RateLimiter } from '../../auth/limits';
import { limitMailRequest } from '../mail-request-limit';
import { emailKey } from '../../validate';
import { attachRefreshToken, endRefreshFamily, endSession, rotateRefreshToken } from '../../auth/refresh-tokens';
import { beginChallenge, completeChallenge } from '../../auth/two-factor-login';
import { findUser } from '../../user/find';
import { createPasswordReset, resetPasswordWithToken } from '../../user/reset_password';
import { inspectToken } from '../../tokens/single-use';
import { ConflictError, NotFoundError, UsageError } from '../../errors';
import { passwordResetMail, sendMail } from '../../mail/mailer';

const CODE = { type: 'string', minLength: 1, maxLength: 64 } as const;
const TOKEN = { type: 'string', minLength: 1, maxLength: 256 } as const;
const PASSWORD = { type: 'string', minLength: 1, maxLength: 1024 } as const;

/** LibreChat's answer to requestPasswordReset, whether or not the address has an account. */
export const RESET_REQUESTED = 'If an account with that email exists, a password reset link has been sent to it.';
const INVALID_RESET = { error: 'Invalid or expired password reset token', message: 'Invalid or expired password reset token' } as const;

function bearerOf(request: FastifyRequest): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match ? match[1] : null;
}

/**
 * Login, logout, refresh and the two-step 2FA login as LibreChat's client speaks them
 * (librechat-data-provider), beside this server's own forms: `{login}` as well as `{email}` (either
 * may hold a nickname), the code inline (`totp`), 401 `mfaRequired` for the `{login}` form.
 */
export function librechatAuthRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;
  const serve = config.serve;
  const sessionSettings = { sessionTtlMs: serve.sessionTtlMs, refreshTtlMs: serve.refreshTtlMs, requireConfirmation: serve.requireConfirmation };
  const authSettings = { bcryptCost: config.bcryptCost, sessionTtlMs: serve.sessionTtlMs, requireConfirmation: serve.requireConfirmation };
  // In the database like every other limit, so several instances share them.
  const resetPerEmail = new RateLimiter({ name: 'reset-request-email', limit: 1, windowMs: serve.verifyResendIntervalMs });
  const resetPerAddress = new RateLimiter({ name: 'reset-request-address', limit: 10, windowMs: 3600e3 });
  void app.register(cookie);

  const signedIn = async (request: FastifyRequest, reply: FastifyReply, pair: { token: string; refreshToken: string; refreshExpiresAt: Date }) => {
    setRefreshCookie(request, reply, state, pair.refreshToken, pair.refreshExpiresAt);
  };

  app.post<{ Body: { login?: string; email?: string; password: string; totp?: string; token?: string; backupCode?: string } }>(
    '/api/auth/login',
    {
      schema: {
        body: {
          type: 'object',
          required: ['password'],
          properties: {
            login: { type: 'string', minLength: 1, maxLength: 320 },
            email: { type: 'string', minLength: 1, maxLength: 320 },
            password: PASSWORD,
            totp: { type: 'string', maxLength: 64 },
            token: { type: 'string', maxLength: 64 },
            backupCode: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const who = body.login ?? body.email;
      if (who === undefined) throw new HttpError(400, errorBody(400, "body must have required property 'login' (or 'email')"));
      const code = body.totp || body.token || body.backupCode || null;
      const ctx = await state.lib(request);
      let session;
      try {
        // The password is checked here, by the directory while LDAP is on, or refused while another
        // single sign-on method is (lib/sso/password-login.ts).
        session = await passwordLogin(ctx, { auth: authSettings, sso: config.sso }, state.loginThrottle, {
          login: who,
          password: body.password,
          totp: code,
          address: clientAddress(request),
        });
      } catch (error) {
        // No code and MFA on: the password was right. LibreChat's client then asks for the code
        // with a temp token; the {login} form keeps its 401 mfaRequired.
        if (!(error instanceof LoginFailedError && error.mfaRequired && code === null && body.login === undefined)) throw error;
        const user = await findUser(ctx.db, who, { localOnly: true, includeDeleted: true, nicknameWins: false });
        if (!user) throw error;
        return { twoFAPending: true, tempToken: await beginChallenge(ctx, user), message: 'Two-factor authentication required' };
      }
      const refresh = await attachRefreshToken(ctx, session.token, session.user.id, sessionSettings);
      await signedIn(request, reply, { token: session.token, refreshToken: refresh.refreshToken, refreshExpiresAt: refresh.expiresAt });
      return { token: session.token, expiresAt: session.expiresAt, user: toApiUser(session.user, serve.termsVersion) };
    },
  );

  app.post<{ Body: { tempToken: string; token?: string; backupCode?: string } }>(
    '/api/auth/2fa/verify-temp',
    { schema: { body: { type: 'object', required: ['tempToken'], properties: { tempToken: TOKEN, token: CODE, backupCode: CODE } } } },
    async (request, reply) => {
      const code = request.body.token ?? request.body.backupCode;
      if (code === undefined) throw new HttpError(400, errorBody(400, 'Send the code as token (TOTP) or backupCode'));
      const pair = await completeChallenge(await state.lib(request), state.hashPool, request.body.tempToken, code, {
        ...sessionSettings,
        loginMaxFailures: serve.loginMaxFailures,
        loginWindowMs: serve.loginWindowMs,
      });
      await signedIn(request, reply, pair);
      return { token: pair.token, user: toApiUser(pair.user, serve.termsVersion) };
    },
  );

  app.post('/api/auth/refresh', async (request, reply) => {
    const refused = refuseCrossOriginCookie(request, reply, state);
    if (refused) return refused;
    const presented = readRefreshCookie(request);
    const outcome = presented === null ? ({ status: 'invalid' } as const) : await rotateRefreshToken(await state.lib(request), presented, sessionSettings);
    if (outcome.status !== 'rotated') {
      clearRefreshCookie(request, reply, state);
      return reply.code(401).send({ ...UNAUTHORIZED, message: presented === null ? 'No refresh token' : 'Invalid or expired refresh token' });
    }
    await signedIn(request, reply, outcome);
    return { token: outcome.token, user: toApiUser(outcome.user, serve.termsVersion) };
  });

  app.post('/api/auth/logout', async (request, reply) => {
    // The bearer may have expired already (the client logs out then too): the cookie alone is
    // enough, from the app's own origin.
    const refused = refuseCrossOriginCookie(request, reply, state);
    if (refused) return refused;
    const db = await state.db(request);
    const token = bearerOf(request);
    const auth = token === null ? null : await authenticate(db, token, state.now(), serve);
    const presented = readRefreshCookie(request);
    if (!auth && presented === null) return reply.code(401).send(UNAUTHORIZED);
    if (auth) await endSession(db, auth.sessionId, state.now());
    if (presented !== null) await endRefreshFamily(db, presented, state.now());
    clearRefreshCookie(request, reply, state);
    return { message: 'Logged out' };
  });

  app.post<{ Body: { email: string } }>(
    '/api/auth/requestPasswordReset',
    { schema: { body: { type: 'object', required: ['email'], properties: { email: { type: 'string', minLength: 3, maxLength: 320 } } } } },
    async (request, reply) => {
      // Keyed by the email rule, so look-alikes of one address share its limit and its account.
      const email = emailKey(request.body.email.trim());
      await limitMailRequest(
        await state.db(request),
        { perEmail: resetPerEmail, perAddress: resetPerAddress },
        { email, address: clientAddress(request), at: state.now().getTime() },
        errorBody(429, 'Please wait before requesting another password reset'),
      );
      // Everything that depends on the account runs after the answer, so its time tells nothing
      // either (it waited for the link and the SMTP server, for an address with an account only).
      state.afterAnswer(request, reply, async (ctx) => {
        const user = await findUser(ctx.db, email, { localOnly: true, nicknameWins: false });
        // An account of an identity provider has no password here: no link, and the same answer
        // (createPasswordReset would refuse it, naming the account and its provider, with a 409).
        if (user && user.active && user.provider === 'local' && user.email && emailKey(user.email) === email && state.mailer) {
          const issued = await createPasswordReset(ctx, user.nickname, config);
          const content = passwordResetMail({ appUrl: config.appUrl, nickname: user.nickname, name: user.name, url: issued.url, expiresAt: issued.expiresAt });
          await sendMail(state.mailer, { to: { address: user.email, name: user.name }, ...content }).catch((error: Error) =>
            state.log(`the password reset mail to ${user.nickname} could not be sent: ${error.message}`),
          );
        } else if (user && !state.mailer) {
          state.log(`mail is not configured (SMTP_URL): no password reset mail sent to ${user.nickname}`);
        }
      });
      return { message: RESET_REQUESTED };
    },
  );

  app.post<{ Body: { userId: string; token: string; password: string; confirm_password?: string } }>(
    '/api/auth/resetPassword',
    {
      schema: {
        body: {
          type: 'object',
          required: ['userId', 'token', 'password'],
          properties: {
            userId: { type: 'string', minLength: 1, maxLength: 32 },
            token: TOKEN,
            password: PASSWORD,
            confirm_password: { type: 'string', maxLength: 1024 },
          },
        },
      },
    },
    async (request) => {
      const { userId, token, password, confirm_password: confirm } = request.body;
      if (confirm !== undefined && confirm !== password) throw new HttpError(400, errorBody(400, 'Passwords do not match'));
      const ctx = await state.lib(request);
      // The token must be the one mailed to this user: someone else's is as bad as none.
      const found = await inspectToken(ctx.db, 'password_reset', token, ctx.now());
      if (found.status !== 'valid' || String(found.userId) !== userId) throw new HttpError(400, INVALID_RESET);
      try {
        await resetPasswordWithToken(ctx, token, password, config);
      } catch (error) {
        if (error instanceof NotFoundError || error instanceof ConflictError) throw new HttpError(400, INVALID_RESET);
        if (error instanceof UsageError) throw new HttpError(400, errorBody(400, error.message));
        throw error;
      }
      return { message: 'Password reset was successful' };
    },
  );
}
