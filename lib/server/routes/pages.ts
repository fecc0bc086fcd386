import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppState } from '../state';
import { formField, html, message, sendPage } from '../html';
import { ConflictError, NotFoundError, UsageError } from '../../errors';
import { checkPasswordResetToken, resetPasswordWithToken } from '../../user/reset_password';
import { checkConfirmationToken, confirmEmail } from '../../tokens/confirmation';

type Status = 'valid' | 'used' | 'expired' | 'unknown';

/** Why a link does not work, in words a person can act on; 404 for unknown, 410 for the rest. */
export function deadLink(reply: FastifyReply, title: string, status: Exclude<Status, 'valid'>, what: string, fix: string): FastifyReply {
  const text = {
    unknown: `This ${what} link is not valid. Check that you copied all of it.`,
    used: `This ${what} link was already used, or it was replaced by a newer one or revoked.`,
    expired: `This ${what} link has expired.`,
  }[status];
  return sendPage(
    reply,
    status === 'unknown' ? 404 : 410,
    title,
    html`${message('error', text)}
      <p class="hint">${fix}</p>`,
  );
}

/** Maps the errors of a token's use (NotFound: unknown, Conflict: used or expired) to a status. */
export function deadStatus(error: unknown): Exclude<Status, 'valid'> | null {
  if (error instanceof NotFoundError) return 'unknown';
  if (error instanceof ConflictError) return /expired/.test(error.message) ? 'expired' : 'used';
  return null;
}

/** The pages behind the links `ctl` prints and mails: set a password, confirm an email, register. */
export function pageRoutes(app: FastifyInstance, state: AppState): void {
  const ASK_RESET = 'Ask for a new link: your administrator can run ctl user reset_password.';

  const resetForm = (nickname: string, error: string | null) =>
    html` <p>Choose a new password for <strong id="nickname">${nickname}</strong>.</p>
      ${error ? message('error', error) : null}
      <form method="post">
        <label for="password">New password</label>
        <input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required />
        <label for="confirm_password">Repeat it</label>
        <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" minlength="8" required />
        <p class="hint">At least 8 characters. Setting it signs you out everywhere.</p>
        <button type="submit">Set password</button>
      </form>`;

  app.get<{ Params: { token: string } }>('/password_reset/:token', async (request, reply) => {
    const check = await checkPasswordResetToken(await state.db(request), request.params.token, state.now());
    if (check.status !== 'valid') return deadLink(reply, 'Set your password', check.status, 'password', ASK_RESET);
    return sendPage(reply, 200, 'Set your password', resetForm(check.nickname ?? '', null));
  });

  app.post<{ Params: { token: string } }>('/password_reset/:token', async (request, reply) => {
    const ctx = await state.lib(request);
    const check = await checkPasswordResetToken(ctx.db, request.params.token, ctx.now());
    if (check.status !== 'valid') return deadLink(reply, 'Set your password', check.status, 'password', ASK_RESET);
    const password = formField(request.body, 'password');
    if (password !== formField(request.body, 'confirm_password')) {
      return sendPage(reply, 400, 'Set your password', resetForm(check.nickname ?? '', 'The two passwords do not match.'));
    }
    try {
      const done = await resetPasswordWithToken(ctx, request.params.token, password, state.config);
      return sendPage(reply, 200, 'Password set', html`${message('success', `Your password has been set. You can now log in as ${done.nickname}.`)}`);
    } catch (error) {
      if (error instanceof UsageError)
        return sendPage(reply, 400, 'Set your password', resetForm(check.nickname ?? '', `${error.message[0].toUpperCase()}${error.message.slice(1)}.`));
      const dead = deadStatus(error);
      if (dead) return deadLink(reply, 'Set your password', dead, 'password', ASK_RESET);
      throw error;
    }
  });

  const ASK_CONFIRM = 'Ask for a new link from the app, or ask your administrator (ctl user send_confirmation).';

  // GET only shows a button: mail scanners and link previews fetch links, and must not confirm.
  app.get<{ Params: { token: string } }>('/verify/:token', async (request, reply) => {
    const check = await checkConfirmationToken(await state.db(request), request.params.token, state.now());
    if (check.status !== 'valid') return deadLink(reply, 'Confirm your email address', check.status, 'confirmation', ASK_CONFIRM);
    return sendPage(
      reply,
      200,
      'Confirm your email address',
      html` <p>Confirm the email address of the account <strong id="nickname">${check.nickname ?? ''}</strong>.</p>
        <form method="post"><button type="submit">Confirm my email address</button></form>`,
    );
  });

  app.post<{ Params: { token: string } }>('/verify/:token', async (request, reply) => {
    try {
      const done = await confirmEmail(await state.lib(request), request.params.token);
      return sendPage(reply, 200, 'Email address confirmed', html`${message('success', `Your email address is confirmed. Thank you, ${done.nickname}.`)}`);
    } catch (error) {
      const dead = deadStatus(error);
      if (dead) return deadLink(reply, 'Confirm your email address', dead, 'confirmation', ASK_CONFIRM);
      throw error;
    }
  });
}
