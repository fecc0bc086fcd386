import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConflictError, CtlError, NotFoundError, RefusedError, UnavailableError, UsageError } from '../errors';
import { AccountRefusedError, LoginFailedError, RateLimitedError } from '../auth/login';
import { OverloadedError } from '../auth/password-checks';
import { SecondFactorLimitError } from '../auth/second-factor-limit';

/** The reference's 401 body, word for word. */
export const UNAUTHORIZED = { error: 'Unauthorized', message: 'You must be logged in to access this resource' } as const;

/** An HTTP answer with an exact body, thrown from a handler. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message ?? body.error));
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too many requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}

/** `{"error": <status text>, "message": ...}`, the shape of every error body of the API. */
export function errorBody(status: number, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { error: statusText(status), message, ...extra };
}

/**
 * The one mapping from the library's typed errors to HTTP, as the CLI has one to exit codes:
 * usage 400, not found 404, conflict 409, refused 403, unavailable 503; login failures 401,
 * rate limits 429, overload 503 with Retry-After.
 */
export function toHttpError(error: unknown): HttpError | null {
  if (error instanceof HttpError) return error;
  if (error instanceof LoginFailedError) {
    return new HttpError(401, { error: 'Unauthorized', message: error.message, ...(error.mfaRequired ? { mfaRequired: true } : {}) });
  }
  if (error instanceof RateLimitedError || error instanceof SecondFactorLimitError) {
    return new HttpError(429, errorBody(429, error.message), { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) });
  }
  if (error instanceof OverloadedError) {
    return new HttpError(503, errorBody(503, error.message), { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) });
  }
  if (error instanceof AccountRefusedError) return new HttpError(403, errorBody(403, error.message));
  if (!(error instanceof CtlError)) return null;
  const status =
    error instanceof UsageError
      ? 400
      : error instanceof NotFoundError
        ? 404
        : error instanceof ConflictError
          ? 409
          : error instanceof RefusedError
            ? 403
            : error instanceof UnavailableError
              ? 503
              : 500;
  return new HttpError(status, errorBody(status, status === 500 ? 'Internal server error' : error.message));
}

export function sendHttpError(reply: FastifyReply, error: HttpError): FastifyReply {
  return reply.code(error.status).headers(error.headers).send(error.body);
}

/** The client's address: X-Forwarded-For's entry added by the last trusted proxy (CTL_TRUST_PROXY, through Fastify's trustProxy), else the socket's. */
export function clientAddress(request: FastifyRequest): string {
  return request.ip || 'unknown';
}
