// Who may reach a console page, and the console's own answers for refusals and errors (HTML,
// never the API's JSON).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppState } from '../state';
import type { LibContext } from '../../lib-context';
import { toHttpError } from '../http';
import { formField, html } from '../html';
import { isSameOrigin } from '../same-origin';
import { clearSessionCookie, cookieSettings, loadConsoleSession, sameToken, type ConsoleSession } from './session';
import { notice, sendConsolePage, type Frame } from './layout';

const sessions = new WeakMap<FastifyRequest, ConsoleSession>();

/** The console session a guarded route runs under (set by `guardConsole`). */
export function sessionOf(request: FastifyRequest): ConsoleSession {
  const session = sessions.get(request);
  if (!session) throw new Error('console route without its guard');
  return session;
}

/** The LibContext of a console action: the administrator is the actor, marked as coming from the web. */
export async function consoleLib(state: AppState, request: FastifyRequest): Promise<LibContext> {
  return { db: await state.db(request), now: state.now, actor: `web:${sessionOf(request).user.nickname}`, reason: null };
}

/** The frame of a page shown to the signed-in administrator. */
export function adminFrame(request: FastifyRequest, title: string): Frame {
  const session = sessionOf(request);
  return { title, admin: { nickname: session.user.nickname, csrfToken: session.csrfToken } };
}

/**
 * A library message as a sentence: a full stop added, its letters left as written. Never
 * capitalised here: a message may begin with a nickname, an email or other data (`alice signs in
 * through oidc`), and `Alice` would be another user. A message that needs a capital is written
 * with one where it is made.
 */
export function asSentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

export { formField };

export function refusePage(reply: FastifyReply, status: number, title: string, text: string): FastifyReply {
  return sendConsolePage(
    reply,
    status,
    { title, admin: null },
    html`${notice('error', text)}
      <p><a href="/admin/login">Sign in</a></p>`,
  );
}

/**
 * preHandler of every console route but sign-in: a live console session of an administrator, and
 * on a POST the session's CSRF token. Moderators are refused like every other non-admin.
 */
export function guardConsole(state: AppState) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const post = request.method === 'POST';
    // The pages' same-origin rule (lib/server/same-origin.ts), again here: defence in depth behind
    // the CSRF token and the SameSite=Strict cookie, should the global hook ever be narrowed.
    if (post && !isSameOrigin(request, state.config.appUrl)) return refusePage(reply, 403, 'Refused', 'This form was posted from another site.');
    const db = await state.db(request);
    const loaded = await loadConsoleSession(db, request, state.now(), state.config.serve);
    if (loaded.status !== 'ok') {
      if (loaded.status === 'expired') clearSessionCookie(reply, cookieSettings(state.config.appUrl));
      if (!post) return reply.redirect(loaded.status === 'expired' ? '/admin/login?ended=1' : '/admin/login', 303);
      return refusePage(reply, 401, 'Signed out', 'Your console session has ended. Sign in again; nothing was changed.');
    }
    const { session } = loaded;
    if (!session.user.admin) return refusePage(reply, 403, 'Refused', 'The console is for administrators only.');
    if (post && !sameToken(formField(request.body, '_csrf'), session.csrfToken)) {
      return refusePage(
        reply,
        403,
        'Refused',
        'The form did not carry this session’s security token (CSRF). Reload the page and try again; nothing was changed.',
      );
    }
    sessions.set(request, session);
    return undefined;
  };
}

/** Errors a console handler did not catch itself, as a page: the same status mapping as the API. */
export function consoleErrorPage(state: AppState) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = toHttpError(error);
    const e = error as { validation?: unknown; statusCode?: number; message?: string; stack?: string };
    let status = mapped?.status ?? (e.validation ? 400 : typeof e.statusCode === 'number' && e.statusCode < 500 ? e.statusCode : 500);
    let text = mapped ? String(mapped.body.message) : status < 500 ? (e.message ?? 'Bad request') : 'Internal server error';
    if (status >= 500 && !mapped) {
      state.log(`internal error on ${request.method} ${request.routeOptions.url}: ${e.stack ?? e.message}`);
      status = 500;
      text = 'Internal server error';
    }
    const session = sessions.get(request);
    return sendConsolePage(
      reply,
      status,
      { title: 'Error', admin: session ? { nickname: session.user.nickname, csrfToken: session.csrfToken } : null },
      notice('error', text),
    );
  };
}
