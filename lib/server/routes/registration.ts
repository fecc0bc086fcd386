import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppState } from '../state';
import { formField, html, message, sendPage, type Html } from '../html';
import { register, RateLimitedError } from '../../auth/login';
import { throttleRegistration } from '../../auth/registration-throttle';
import { clientAddress } from '../http';
import { ConflictError, NotFoundError, UsageError } from '../../errors';
import { sendConfirmationMail } from '../confirmation-mail';
import type { InviteCheck, InviteJson } from '../../invites/invites';
import { checkInvite } from '../../invites/invites';

const TITLE = 'Create your account';

interface Values {
  readonly username: string;
  readonly email: string;
  readonly name: string;
}

function form(invite: InviteJson, values: Values, error: string | null): Html {
  const fixedEmail = invite.email !== null;
  // The address is type=text (inputmode=email): a browser's type=email check refuses a non-ASCII
  // local part (zoë@…) that the server's email rule takes, and would not send the form at all.
  return html` <p>You have been invited to create an account.</p>
    ${error ? message('error', error) : null}
    <form method="post">
      <label for="username">User name</label>
      <input id="username" name="username" autocomplete="username" maxlength="64" value="${values.username}" required />
      <label for="email">Email address</label>
      <input
        id="email"
        name="email"
        type="text"
        inputmode="email"
        autocomplete="email"
        maxlength="254"
        value="${fixedEmail ? invite.email : values.email}"
        ${fixedEmail ? html`readonly` : null}
        required
      />
      <label for="name">Display name <span class="hint">(optional)</span></label>
      <input id="name" name="name" autocomplete="name" maxlength="256" value="${values.name}" />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required />
      <label for="confirm_password">Repeat the password</label>
      <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" minlength="8" required />
      <button type="submit">Create account</button>
    </form>`;
}

const DEAD: Record<Exclude<InviteCheck['status'], 'valid'>, string> = {
  unknown: 'This invitation link is not valid. Check that you copied all of it.',
  used: 'This invitation has already been used.',
  expired: 'This invitation has expired.',
  revoked: 'This invitation was revoked.',
};

function dead(reply: FastifyReply, checked: InviteCheck['status']): FastifyReply {
  const status = checked === 'valid' ? 'unknown' : checked;
  return sendPage(
    reply,
    status === 'unknown' ? 404 : 410,
    TITLE,
    html`${message('error', DEAD[status])}
      <p class="hint">Ask whoever invited you for a new invitation.</p>`,
  );
}

function capitalize(text: string): string {
  return `${text[0]?.toUpperCase() ?? ''}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
}

/** /registration/<token>: the page behind `ctl user invite`'s link. */
export function registrationRoutes(app: FastifyInstance, state: AppState): void {
  app.get<{ Params: { token: string } }>('/registration/:token', async (request, reply) => {
    const check = await checkInvite(await state.db(request), request.params.token, state.now());
    if (check.status !== 'valid' || !check.invite) return dead(reply, check.status);
    return sendPage(reply, 200, TITLE, form(check.invite, { username: '', email: '', name: check.invite.name ?? '' }, null));
  });

  app.post<{ Params: { token: string } }>('/registration/:token', async (request, reply) => {
    const ctx = await state.lib(request);
    const token = request.params.token;
    const check = await checkInvite(ctx.db, token, ctx.now());
    if (check.status !== 'valid' || !check.invite) return dead(reply, check.status);
    // A form sends text; a JSON body may send anything, and a field that is not text counts as empty.
    const body = request.body;
    const values: Values = { username: formField(body, 'username').trim(), email: formField(body, 'email').trim(), name: formField(body, 'name').trim() };
    const password = formField(body, 'password');
    if (password !== formField(body, 'confirm_password')) return sendPage(reply, 400, TITLE, form(check.invite, values, 'The two passwords do not match.'));
    if (values.username === '') return sendPage(reply, 400, TITLE, form(check.invite, values, 'Choose a user name.'));
    const email = check.invite.email ?? values.email;
    try {
      const created = await throttleRegistration(ctx.db, state.loginThrottle, clientAddress(request), ctx.now().getTime(), () =>
        register(
          ctx,
          { ...state.config, ...state.config.serve },
          {
            nickname: values.username,
            email,
            name: values.name === '' ? null : values.name,
            password,
            inviteToken: token,
          },
        ),
      );
      const nick = created.user.nickname;
      let after: Html = html`<p>You can now log in as <strong id="nickname">${nick}</strong>.</p>`;
      if (created.confirmation) {
        const sent = await sendConfirmationMail(state, created.user, created.confirmation);
        const how = sent ? html` with the link we just sent you` : html`: ask your administrator for a confirmation link`;
        after = state.config.serve.requireConfirmation
          ? html`<p>Before you can log in as <strong id="nickname">${nick}</strong>, confirm your email address${how}.</p>`
          : html`<p>You can now log in as <strong id="nickname">${nick}</strong>. Confirm your email address${how}.</p>`;
      }
      return sendPage(reply, 201, 'Account created', html`${message('success', `Account ${nick} created.`)}${after}`);
    } catch (error) {
      if (error instanceof RateLimitedError) {
        const wait = String(Math.ceil(error.retryAfterMs / 1000));
        return sendPage(reply.header('retry-after', wait), 429, TITLE, form(check.invite, values, 'Too many attempts from your address; try again later.'));
      }
      if (error instanceof UsageError || error instanceof ConflictError || error instanceof NotFoundError) {
        // The invite may have been used up meanwhile: then say that, not the form's error.
        const again = await checkInvite(ctx.db, token, ctx.now());
        if (again.status !== 'valid' || !again.invite) return dead(reply, again.status);
        return sendPage(reply, error instanceof ConflictError ? 409 : 400, TITLE, form(again.invite, values, capitalize(error.message)));
      }
      throw error;
    }
  });
}
