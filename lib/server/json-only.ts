import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './http';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a route of the API may be sent besides JSON (the avatar upload: multipart/form-data). */
    readonly bodyTypes?: readonly string[];
  }
}

/** The media type of a Content-Type header, lower-cased, without parameters; '' when absent. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * Whether a request is for the API: by the route it reached, not the URL as sent. The router
 * decodes percent-escapes, so `/%61pi/auth/login` reaches /api/auth/login while its URL does not
 * start with /api/. A request that reached no route is judged by its URL.
 */
export function isApiRequest(request: FastifyRequest): boolean {
  return (request.routeOptions.url ?? request.url).startsWith('/api/');
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * onRequest hook: a request to /api/* that carries a body must say it is JSON, else 415 with the
 * API's JSON error body. A browser sends a cross-site form (urlencoded, multipart, text/plain)
 * without asking first, but JSON only after a CORS preflight this server never grants, so this is
 * what keeps another site's page from posting a login or a registration on a visitor's behalf.
 * Checked before the body is read; a body-less request (logout, an empty POST) passes.
 */
export async function jsonOnlyApi(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (!isApiRequest(request) || !hasBody(request)) return undefined;
  const type = mediaType(request.headers['content-type']);
  const allowed = ['application/json', ...(request.routeOptions.config?.bodyTypes ?? [])];
  if (allowed.includes(type)) return undefined;
  return reply
    .code(415)
    .header('connection', 'close')
    .send(errorBody(415, `Send the request body as ${allowed.join(' or ')}${type ? `, not ${type}` : ' (no Content-Type was given)'}`));
}
