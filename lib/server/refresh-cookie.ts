import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppState } from './state';
import { errorBody } from './http';
import { isSameOrigin } from './same-origin';

/** LibreChat's cookie name; the client never reads it (httpOnly), only the browser sends it back. */
export const REFRESH_COOKIE = 'refreshToken';
/** Only the refresh and logout routes need the cookie, so no other request carries it. */
const COOKIE_PATH = '/api/auth';

/** localhost, 127.0.0.0/8 or ::1, as a URL or Host header names them. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Secure unless the request came to a loopback host and APP_URL is not https: over plain HTTP on
 * a developer's machine a Secure cookie would never be sent back, anywhere else it must not
 * travel without TLS.
 */
function secure(request: FastifyRequest, state: AppState): boolean {
  if (state.config.appUrl.startsWith('https:')) return true;
  return !isLoopbackHost(request.hostname.replace(/:\d+$/, ''));
}

export function setRefreshCookie(request: FastifyRequest, reply: FastifyReply, state: AppState, token: string, expiresAt: Date): void {
  void reply.setCookie(REFRESH_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure: secure(request, state),
    path: COOKIE_PATH,
    expires: expiresAt,
  });
}

export function clearRefreshCookie(request: FastifyRequest, reply: FastifyReply, state: AppState): void {
  void reply.clearCookie(REFRESH_COOKIE, { httpOnly: true, sameSite: 'strict', secure: secure(request, state), path: COOKIE_PATH });
}

export function readRefreshCookie(request: FastifyRequest): string | null {
  const value = request.cookies?.[REFRESH_COOKIE];
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * The refresh cookie is all /api/auth/refresh needs, and all a logout needs once its access token
 * has expired. SameSite=Strict keeps it from other sites only: a page on a sibling subdomain is the
 * same site, and its empty-body POST needs no CORS preflight, so it could end (logout) or race and
 * spend (refresh) a visitor's refresh-token family. A request presenting the cookie must therefore
 * come from the app's own origin, by the pages' and console's rule (same-origin.ts: Sec-Fetch-Site,
 * else Origin; a client that sends neither, not being a browser, passes): else 403 here, and the
 * family is left alone. Returns the refusal sent, or undefined to go on.
 */
export function refuseCrossOriginCookie(request: FastifyRequest, reply: FastifyReply, state: AppState): FastifyReply | undefined {
  if (readRefreshCookie(request) === null || isSameOrigin(request, state.config.appUrl)) return undefined;
  return reply.code(403).send(errorBody(403, 'This request came from another origin, so its refresh cookie was refused'));
}
