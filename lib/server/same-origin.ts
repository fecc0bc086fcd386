import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, message, sendPage } from './html';
import { isApiRequest } from './json-only';

/**
 * Whether a form post comes from this site's own pages. Current browsers say so in
 * `Sec-Fetch-Site` (`same-origin`; `none` when the user started it), and that is trusted first:
 * the pages are served with `Referrer-Policy: no-referrer`, under which a browser sends
 * `Origin: null` even for its own forms. Without it, `Origin` must be APP_URL's origin or the one
 * the request was addressed to (the Host header, so a server reached under another name still
 * accepts its own forms); `null` is refused. A request with neither header is not a browser's
 * cross-site post (curl, scripts) and passes.
 */
export function isSameOrigin(request: FastifyRequest, appUrl: string): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  return origin === new URL(appUrl).origin || origin === `${request.protocol}://${request.host}`;
}

/**
 * onRequest hook for the server-rendered pages (everything outside /api/): a POST from another
 * origin is 403 before its body is read, so no other site can submit the set-password,
 * confirmation or registration forms in a visitor's browser.
 */
export function sameOriginForms(appUrl: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (request.method !== 'POST' || isApiRequest(request) || isSameOrigin(request, appUrl)) return undefined;
    return sendPage(
      reply,
      403,
      'Request refused',
      html`${message('error', 'This form was sent from another site, so it was refused. Open the link again and send the form from this page.')}`,
    );
  };
}
