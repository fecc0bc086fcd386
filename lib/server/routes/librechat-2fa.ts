import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppState } from '../state';
import { HttpError, errorBody } from '../http';
import { disableMfa, regenerateBackupCodes } from '../../auth/mfa';
import { checkEnrolmentCode, confirmEnrolment, enableOrReenrol } from '../../auth/two-factor-enrolment';

const CODE = { type: 'string', minLength: 1, maxLength: 64 } as const;
/** LibreChat's TOTPVerificationPayload: a TOTP code as `token`, or a `backupCode`. */
const CODE_BODY = { body: { type: 'object', properties: { token: CODE, backupCode: CODE } } } as const;

type CodeBody = { Body: { token?: string; backupCode?: string } | undefined };

/** The code a body carries: `token` (TOTP) or `backupCode`, else null. */
function codeOf(body: CodeBody['Body']): string | null {
  return body?.token ?? body?.backupCode ?? null;
}

/** Two-factor enrolment, check, confirm, disable and new backup codes: /api/auth/2fa/... */
export function librechat2faRoutes(app: FastifyInstance, state: AppState): void {
  const settings = { bcryptCost: state.config.bcryptCost, issuer: new URL(state.config.appUrl).host };
  const limits = { maxFailures: state.config.serve.loginMaxFailures, windowMs: state.config.serve.loginWindowMs };
  // A request with no body at all (the package's enable() sends none) is taken as {}.
  const noBodyIsEmpty = async (request: FastifyRequest) => {
    request.body ??= {};
  };
  const auth = { onRequest: state.requireAuth, preValidation: noBodyIsEmpty, schema: CODE_BODY };
  const wrongCode = () => new HttpError(400, errorBody(400, 'Invalid two-factor authentication code'));
  const needCode = (body: CodeBody['Body']) => {
    const code = codeOf(body);
    if (code === null) throw new HttpError(400, errorBody(400, 'Send the code as token (TOTP) or backupCode'));
    return code;
  };

  app.post<CodeBody>('/api/auth/2fa/enable', auth, async (request) => {
    const enrolment = await enableOrReenrol(await state.lib(request), state.hashPool, request.auth!.user.id, codeOf(request.body), settings, limits);
    if (!enrolment) throw wrongCode();
    return { otpauthUrl: enrolment.otpauthUrl, secret: enrolment.secret, backupCodes: enrolment.backupCodes };
  });

  app.post<CodeBody>('/api/auth/2fa/verify', auth, async (request) => {
    if (!(await checkEnrolmentCode(await state.lib(request), request.auth!.user.id, needCode(request.body), limits))) throw wrongCode();
    return { message: '2FA code verified successfully.' };
  });

  app.post<CodeBody>('/api/auth/2fa/confirm', auth, async (request) => {
    if (!(await confirmEnrolment(await state.lib(request), request.auth!.user.id, needCode(request.body), limits))) throw wrongCode();
    return { message: 'Two-factor authentication enabled', twoFactorEnabled: true };
  });

  app.post<CodeBody>('/api/auth/2fa/disable', auth, async (request) => {
    if (!(await disableMfa(await state.lib(request), state.hashPool, request.auth!.user.id, needCode(request.body), limits))) throw wrongCode();
    return { message: 'Two-factor authentication disabled', twoFactorEnabled: false };
  });

  app.post<CodeBody>('/api/auth/2fa/backup/regenerate', auth, async (request) => {
    const ctx = await state.lib(request);
    const codes = await regenerateBackupCodes(ctx, state.hashPool, request.auth!.user.id, needCode(request.body), settings, limits);
    if (!codes) throw wrongCode();
    // LibreChat's client shows how many codes are left from backupCodesHash; the hashes are bcrypt's.
    const row = await ctx.db.selectFrom('users').select('mfa_backup_codes').where('id', '=', request.auth!.user.id).executeTakeFirstOrThrow();
    return {
      message: 'Backup codes regenerated',
      backupCodes: codes,
      backupCodesHash: row.mfa_backup_codes.map((codeHash) => ({ codeHash, used: false, usedAt: null })),
    };
  });
}
