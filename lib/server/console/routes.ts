// lib/server/console is the admin console of `ctl serve` (issue 15): server-rendered pages under
// /admin and /launchpad. This file registers them and holds sign-in, sign-out, the launchpad,
// registration and the licence page; users.ts the user list, bulk actions and deleted users;
// user-page.ts one user's page; session.ts the session cookie and CSRF tokens; guard.ts who gets in;
// layout.ts the page frame. Every action is the lib/ function of its CLI verb.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import type { AppState } from '../state';
import { html, type Html } from '../html';
import { clientAddress } from '../http';
import { AccountRefusedError, LoginFailedError, RateLimitedError, logout } from '../../auth/login';
import { passwordLogin } from '../../sso/password-login';
import { isSameOrigin } from '../same-origin';
import { hashToken } from '../../tokens/secrets';
import { ConflictError, UsageError } from '../../errors';
import { parseSince } from '../../dates';
import { splitAddressList } from '../../validate';
import { countUsers } from '../../user/count';
import { adminExists, createFirstAdmin } from '../../user/launchpad';
import { createUser, planNewUser } from '../../user/new';
import { sendMail, setPasswordMail } from '../../mail/mailer';
import {
  consoleTokenLifeMs,
  clearSessionCookie,
  cookieSettings,
  loadConsoleSession,
  openConsoleSession,
  preSessionToken,
  preSessionTokenMatches,
  setSessionCookie,
} from './session';
import { adminFrame, asSentence, consoleErrorPage, consoleLib, formField, guardConsole, sessionOf } from './guard';
import { csrfField, notice, sendConsolePage } from './layout';
import { userListRoutes } from './users';
import { userPageRoutes } from './user-page';

/** At most this many addresses per /admin/register submission: one request stays short. */
export const MAX_REGISTER = 100;

export function consoleRoutes(app: FastifyInstance, state: AppState): void {
  void app.register(async (scope) => {
    // Cookies are parsed for the console's routes only; another part of the app may register the
    // plugin for itself first (the decorator then exists here already).
    if (!scope.hasDecorator('parseCookie')) await scope.register(fastifyCookie);
    scope.setErrorHandler(consoleErrorPage(state));
    signInRoutes(scope, state);
    launchpadRoutes(scope, state);
    void scope.register(async (admin) => {
      admin.addHook('preHandler', guardConsole(state));
      admin.get('/admin', async (_request, reply) => reply.redirect('/admin/users', 303));
      admin.post('/admin/logout', async (request, reply) => {
        await logout(await state.db(request), sessionOf(request).tokenId, state.now());
        clearSessionCookie(reply, cookieSettings(state.config.appUrl));
        return reply.redirect('/admin/login?signed_out=1', 303);
      });
      userListRoutes(admin, state);
      userPageRoutes(admin, state);
      registerRoutes(admin, state);
      licenceRoutes(admin, state);
    });
  });
}

function signInRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;
  const cookies = cookieSettings(config.appUrl);
  // The console's token is an access token like the API's: it must not outlive the console session
  // it carries (12 hours at most, and its idle timeout: session.ts), or a copy of the cookie would
  // be an API bearer for longer.
  const authSettings = {
    bcryptCost: config.bcryptCost,
    sessionTtlMs: consoleTokenLifeMs(config.serve.sessionTtlMs),
    requireConfirmation: config.serve.requireConfirmation,
  };

  const form = (token: string, login: string, message: Html | null, askCode: boolean) =>
    html`${message}
      <form method="post" action="/admin/login">
        ${csrfField(token)}
        <div class="field">
          <label for="login">Nickname or email</label
          ><input class="wide" id="login" name="login" type="text" autocomplete="username" required value="${login}" />
        </div>
        <div class="field">
          <label for="password">Password</label><input class="wide" id="password" name="password" type="password" autocomplete="current-password" required />
        </div>
        <div class="field">
          <label for="totp">Two-factor code${askCode ? '' : ' (if enabled)'}</label
          ><input id="totp" name="totp" type="text" inputmode="numeric" autocomplete="one-time-code" ${askCode ? html`required autofocus` : null} />
        </div>
        <button type="submit" id="sign-in">Sign in</button>
      </form>
      <p class="hint">The console is for administrators. The same accounts, passwords, two-factor codes and attempt limits as the app's login.</p>`;

  const frame = { title: 'Sign in to the console', admin: null };

  app.get<{ Querystring: { ended?: string; signed_out?: string } }>('/admin/login', async (request, reply) => {
    const loaded = await loadConsoleSession(await state.db(request), request, state.now(), config.serve);
    if (loaded.status === 'ok' && loaded.session.user.admin) return reply.redirect('/admin/users', 303);
    const message =
      request.query.ended !== undefined
        ? notice('error', 'Your console session has ended. Sign in again.')
        : request.query.signed_out !== undefined
          ? notice('success', 'You have signed out.')
          : null;
    return sendConsolePage(reply, 200, frame, form(preSessionToken(request, reply, cookies), '', message, false));
  });

  app.post('/admin/login', async (request, reply) => {
    const token = preSessionToken(request, reply, cookies);
    if (!isSameOrigin(request, state.config.appUrl) || !preSessionTokenMatches(request, formField(request.body, '_csrf'))) {
      return sendConsolePage(
        reply,
        403,
        frame,
        form(token, '', notice('error', 'The sign-in form had expired (CSRF token missing or wrong). Try again.'), false),
      );
    }
    const who = formField(request.body, 'login').slice(0, 320);
    const password = formField(request.body, 'password').slice(0, 1024);
    const totp = formField(request.body, 'totp').trim().slice(0, 64);
    const db = await state.db(request);
    try {
      // The API's password rule: the directory while LDAP is on, refused while OIDC or SAML is.
      const session = await passwordLogin(
        { db, now: state.now, actor: 'web', reason: null },
        { auth: authSettings, sso: state.config.sso },
        state.loginThrottle,
        {
          login: who,
          password,
          totp: totp || null,
          address: clientAddress(request),
        },
      );
      const row = await db.selectFrom('tokens').select('id').where('token_hash', '=', hashToken(session.token)).executeTakeFirstOrThrow();
      if (!session.user.admin) {
        // The password was right, but this is no administrator: the session it opened ends at once.
        await logout(db, row.id, state.now());
        return sendConsolePage(reply, 403, frame, form(token, who, notice('error', 'The console is for administrators only.'), false));
      }
      await openConsoleSession(db, row.id, state.now());
      setSessionCookie(reply, session.token, cookies);
      return reply.redirect('/admin/users', 303);
    } catch (error) {
      if (error instanceof LoginFailedError)
        return sendConsolePage(reply, 401, frame, form(token, who, notice('error', `${error.message}.`), error.mfaRequired));
      if (error instanceof RateLimitedError) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
        return sendConsolePage(reply, 429, frame, form(token, who, notice('error', `${error.message}.`), false));
      }
      if (error instanceof AccountRefusedError) return sendConsolePage(reply, 403, frame, form(token, who, notice('error', `${error.message}.`), false));
      throw error;
    }
  });
}

function launchpadRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;
  const cookies = cookieSettings(config.appUrl);
  const frame = { title: 'Launchpad: create the first administrator', admin: null };
  const closed = (reply: FastifyReply) =>
    sendConsolePage(
      reply,
      403,
      frame,
      html`${notice('error', 'An administrator already exists: the launchpad is closed.')}
        <p><a href="/admin/login">Sign in to the console</a></p>`,
    );
  // The address fields are type=text: a browser's type=email refuses addresses the email rule takes
  // (a non-ASCII local part, zoë@example.com) and would not send the form; the server checks them.
  const form = (token: string, values: { nickname: string; email: string }, message: Html | null) =>
    html`${message}
      <p>No administrator exists yet. Create the first one; this page closes for good once one exists.</p>
      <form method="post" action="/launchpad">
        ${csrfField(token)}
        <div class="field">
          <label for="nickname">Nickname</label><input class="wide" id="nickname" name="nickname" type="text" required value="${values.nickname}" />
        </div>
        <div class="field">
          <label for="email">Email</label
          ><input class="wide" id="email" name="email" type="text" inputmode="email" autocomplete="email" required value="${values.email}" />
        </div>
        <div class="field">
          <label for="password">Password</label
          ><input class="wide" id="password" name="password" type="password" autocomplete="new-password" minlength="8" required />
        </div>
        <button type="submit" id="create-admin">Create administrator</button>
      </form>`;

  app.get('/launchpad', async (request, reply) => {
    if (await adminExists(await state.db(request))) return closed(reply);
    return sendConsolePage(reply, 200, frame, form(preSessionToken(request, reply, cookies), { nickname: '', email: '' }, null));
  });

  app.post('/launchpad', async (request, reply) => {
    const token = preSessionToken(request, reply, cookies);
    const values = { nickname: formField(request.body, 'nickname').trim(), email: formField(request.body, 'email').trim() };
    if (!isSameOrigin(request, state.config.appUrl) || !preSessionTokenMatches(request, formField(request.body, '_csrf'))) {
      return sendConsolePage(reply, 403, frame, form(token, values, notice('error', 'The form had expired (CSRF token missing or wrong). Try again.')));
    }
    const ctx = { db: await state.db(request), now: state.now, actor: 'web:launchpad', reason: null };
    try {
      const created = await createFirstAdmin(
        ctx,
        { ...values, password: formField(request.body, 'password') },
        { ...config, confirmationTtlMs: config.confirmationTtlMs },
      );
      return sendConsolePage(
        reply,
        201,
        { ...frame, title: 'Administrator created' },
        html`${notice('success', `Administrator ${created.user.nickname} created. The launchpad is now closed.`)}
          <p><a href="/admin/login">Sign in to the console</a></p>`,
      );
    } catch (error) {
      if (error instanceof ConflictError && /launchpad is closed/.test(error.message)) return closed(reply);
      if (error instanceof UsageError || error instanceof ConflictError) {
        return sendConsolePage(reply, error instanceof UsageError ? 400 : 409, frame, form(token, values, notice('error', asSentence(error.message))));
      }
      throw error;
    }
  });
}

type RegisterOutcome =
  | { readonly email: string; readonly status: 'created'; readonly nickname: string; readonly url: string | null; readonly mailed: boolean }
  | { readonly email: string; readonly status: 'exists' | 'invalid'; readonly reason: string };

function registerRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;
  const form = (request: FastifyRequest, emails: string, message: Html | null) =>
    html`${message}
      <p>
        Creates each account as <code>ctl user new &lt;email&gt;</code> would (the nickname is the address's local part, no password): each gets a set-password
        link, mailed when mail is configured, else shown here once.
      </p>
      <form method="post" action="/admin/register">
        ${csrfField(sessionOf(request).csrfToken)}
        <div class="field">
          <label for="emails">Email addresses, separated by commas, semicolons or line breaks</label
          ><textarea class="wide" id="emails" name="emails" rows="5" required>${emails}</textarea>
        </div>
        <button type="submit" id="register">Create accounts</button>
      </form>`;

  app.get('/admin/register', async (request, reply) => sendConsolePage(reply, 200, adminFrame(request, 'Register users'), form(request, '', null)));

  app.post('/admin/register', async (request, reply) => {
    const text = formField(request.body, 'emails');
    const addresses = splitAddressList(text);
    if (addresses.length === 0 || addresses.length > MAX_REGISTER) {
      const why = addresses.length === 0 ? 'Give at least one email address.' : `At most ${MAX_REGISTER} addresses at a time.`;
      return sendConsolePage(reply, 400, adminFrame(request, 'Register users'), form(request, text, notice('error', why)));
    }
    const ctx = await consoleLib(state, request);
    const outcomes: RegisterOutcome[] = [];
    for (const email of addresses) {
      try {
        const plan = planNewUser({ email, password: null });
        // Each account in its own transaction with its audit row and link: whole or not at all.
        const created = await createUser(ctx, plan, config);
        const link = created.passwordReset!;
        let mailed = false;
        if (state.mailer) {
          try {
            await sendMail(state.mailer, {
              to: { address: plan.email, name: plan.name },
              ...setPasswordMail({ appUrl: config.appUrl, nickname: plan.nickname, name: plan.name, url: link.url, expiresAt: link.expiresAt }),
            });
            mailed = true;
          } catch (error) {
            state.log(`the set-password mail to ${plan.nickname} could not be sent: ${(error as Error).message}`);
          }
        }
        outcomes.push({ email, status: 'created', nickname: plan.nickname, url: mailed ? null : link.url, mailed });
      } catch (error) {
        if (error instanceof UsageError) outcomes.push({ email, status: 'invalid', reason: asSentence(error.message) });
        else if (error instanceof ConflictError) outcomes.push({ email, status: 'exists', reason: asSentence(error.message) });
        else throw error;
      }
    }
    const label = { created: 'created', exists: 'already exists', invalid: 'invalid' } as const;
    const rows = outcomes.map(
      (o) =>
        html`<tr data-status="${o.status}">
          <td>${o.email}</td>
          <td>${label[o.status]}</td>
          <td>${o.status === 'created' ? (o.mailed ? html`Set-password link mailed to ${o.email}` : html`<span class="once">${o.url}</span>`) : o.reason}</td>
        </tr>`,
    );
    const created = outcomes.filter((o) => o.status === 'created').length;
    return sendConsolePage(
      reply,
      200,
      adminFrame(request, 'Register users'),
      html`${notice('success', `${created} of ${outcomes.length} accounts created.`)}
        ${state.mailer ? null : html`<p class="hint">Mail is not configured (SMTP_URL): pass each link on yourself; it is shown only this once.</p>`}
        <table id="results">
          <thead>
            <tr>
              <th>Email</th>
              <th>Result</th>
              <th>Set-password link or reason</th>
            </tr>
          </thead>
          <tbody>
            ${rows}
          </tbody>
        </table>
        ${form(request, '', null)}`,
    );
  });
}

function licenceRoutes(app: FastifyInstance, state: AppState): void {
  app.get<{ Querystring: { since?: string } }>('/admin/licence', async (request, reply) => {
    const since = typeof request.query.since === 'string' && request.query.since.trim() !== '' ? request.query.since.trim().slice(0, 40) : '365d';
    let from: Date;
    try {
      from = parseSince(since, 'since', state.now());
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      return sendConsolePage(reply, 400, adminFrame(request, 'Licence'), notice('error', asSentence(error.message)));
    }
    const counts = await countUsers(await state.db(request), from);
    return sendConsolePage(
      reply,
      200,
      adminFrame(request, 'Licence'),
      html`<p>The numbers of <code>ctl user count --active-since ${since}</code>: local accounts only.</p>
        <dl id="counts">
          <dt>Users (holding a licence)</dt>
          <dd id="total">${counts.total}</dd>
          <dt>Active since ${counts.activeSince.toISOString().slice(0, 10)}</dt>
          <dd id="active">${counts.activeInWindow}</dd>
          <dt>Deactivated</dt>
          <dd id="deactivated">${counts.deactivated}</dd>
          <dt>Deleted (recoverable, not counted)</dt>
          <dd id="deleted">${counts.deleted}</dd>
        </dl>
        <form method="get" action="/admin/licence" class="filters">
          <div class="field"><label for="since">Active within</label> <input id="since" name="since" type="text" value="${since}" /></div>
          <button type="submit">Count</button>
        </form>`,
    );
  });
}
