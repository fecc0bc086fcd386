import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, message, sendPage } from './html';

/**
 * Whether a form post comes from this site's own pages. Browsers send `Origin` with every POST
 * (and `Sec-Fetch-Site` in current ones); a post another site's page makes carries that site's
 * origin. This site is APP_URL's origin, or the origin the request itself was addressed to (the
 * Host header), so a server reached under another name still accepts its own forms. A request
 * with neither header is not a browser's cross-site post (curl, scripts) and passes.
 */
export function isSameOrigin(request: FastifyRequest, appUrl: string): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return false;
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
    if (request.method !== 'POST' || request.url.startsWith('/api/') || isSameOrigin(request, appUrl)) return undefined;
    return sendPage(
      reply,
      403,
      'Request refused',
      html`${message('error', 'This form was sent from another site, so it was refused. Open the link again and send the form from this page.')}`,
    );
  };
}
