// lib/server owns the app side (`ctl serve`): the Fastify app (this file), its routes (routes/),
// what every route is handed (state.ts), the server's database handle (database.ts), and the link
// pages' HTML (html.ts). Every rule it applies is a lib/ function the CLI calls too.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Config, TrustProxy } from '../config';
import { authenticate, LoginThrottle } from '../auth/login';
import { RateLimiter } from '../auth/limits';
import { createHashPool, defaultPoolSize } from '../auth/hash-pool';
import { PasswordChecks } from '../auth/password-checks';
import { isConnectionLoss, isPoolExhausted } from '../db/pg-errors';
import type { ServerDatabase } from './database';
import type { Mailer } from '../mail/mailer';
import { errorBody, HttpError, sendHttpError, toHttpError, UNAUTHORIZED } from './http';
import type { AppState } from './state';
import { AfterAnswer } from './after-answer';
import { nestsDeeperThan, MAX_JSON_DEPTH } from './json-depth';
import { jsonOnlyApi } from './json-only';
import { sameOriginForms } from './same-origin';
import { authRoutes } from './routes/auth';
import { librechatAuthRoutes } from './routes/librechat-auth';
import { librechat2faRoutes } from './routes/librechat-2fa';
import { librechatUserRoutes } from './routes/librechat-user';
import { registrationRoutes } from './routes/registration';
import { userRoutes } from './routes/user';
import { fileRoutes } from './routes/files';
import { metricsRoutes } from './routes/metrics';
import { pageRoutes } from './routes/pages';
import { consoleRoutes } from './console/routes';
import { ssoRoutes } from './routes/sso';

/** What the server is built from: injected, so tests run it with `inject` and a test database. */
export interface ServerDeps {
  readonly database: ServerDatabase;
  readonly config: Config;
  /** The clock (tests move it to expire tokens). */
  readonly now?: () => Date;
  /** One line per request and every internal error; nothing by default. */
  readonly log?: (line: string) => void;
  /** Sends verification mail (lib/mail/mailer.ts); null: mail is not configured. */
  readonly mailer?: Mailer | null;
}

// How many password checks may be under way at once before a login is answered 503: a few
// seconds of bcrypt at cost 12, and room for a whole per-address limit (20) at once.
const MIN_ACTIVE_LOGINS = 32;
const ACTIVE_LOGINS_PER_WORKER = 16;
// Logins using the database at once. One: a burst of logins then never holds more than one
// connection (the embedded database has only one), and a login's counting is a few milliseconds,
// so one lane still passes hundreds of logins a second; a burst from one address is serialised by
// its counter's lock anyway.
const LOGIN_DATABASE_LANES = 1;

/**
 * CTL_TRUST_PROXY as Fastify takes it: the proxies' addresses, or for a hop count the function
 * Fastify itself builds from a number (the `hop` nearest entries are the proxies'), which its
 * types do not list. Never `true` (lib/config.ts refuses "trust all").
 */
function trustProxyOption(trust: TrustProxy): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return trust === false ? false : [...trust];
}

/** Headers on every answer (cache-control unless a route chose its own, as the avatars do). */
const EVERY_ANSWER_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' } as const;

/** The bearer token of a request, or null. */
function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}

/**
 * The app side as a Fastify instance: the Users API, login and sessions, MFA, metrics, and the
 * HTML pages behind every link `ctl` prints. It holds no rule of its own: every check and write is
 * a lib/ function shared with the CLI.
 */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const app = Fastify({
    logger: false,
    trustProxy: trustProxyOption(config.serve.trustProxy),
    bodyLimit: 256 * 1024,
    // A string is not a list and 1 is not a name: no silent type coercion of request bodies.
    ajv: { customOptions: { coerceTypes: false } },
    // A URL the router cannot read (a malformed percent-escape, a path segment past Fastify's
    // maxParamLength) is answered before any hook runs: Fastify's own body echoed the URL (links
    // carry tokens) in another shape, without the headers every answer carries, and nothing was
    // logged. Here: the API's error shape, those headers, and the log line of a request that
    // reached no route. (Fastify's third such error, of async route constraints, has no use here.)
    frameworkErrors: (error, request, reply: FastifyReply) => {
      const [status, message] =
        error.code === 'FST_ERR_BAD_URL'
          ? [400, 'The URL is not valid (a malformed percent-escape)']
          : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? [414, 'A part of the URL is too long']
            : [500, 'Internal server error'];
      log(`${request.method} (no route) ${status}`);
      void reply.code(status).headers(EVERY_ANSWER_HEADERS).send(errorBody(status, message));
    },
  });

  // Password and backup-code checks run on worker threads, one core left to the event loop; they
  // start on the first login.
  const hashPool = createHashPool(Math.max(1, defaultPoolSize() - 1));
  app.addHook('onClose', () => hashPool.close());
  // Closing waits for the work routes left until after their answers (a mail under way).
  const afterAnswer = new AfterAnswer(log);
  app.decorate('afterAnswer', afterAnswer);
  app.addHook('onClose', () => afterAnswer.idle());

  app.decorateRequest('auth', null);
  app.decorateRequest('leasedDb', null);

  const state: AppState = {
    config,
    now,
    log,
    mailer: deps.mailer ?? null,
    hashPool,
    loginThrottle: new LoginThrottle({
      maxPerAccount: config.serve.loginMaxFailures,
      maxPerAddress: config.serve.loginMaxFailuresPerAddress,
      windowMs: config.serve.loginWindowMs,
      passwords: new PasswordChecks(hashPool),
      maxActive: Math.max(MIN_ACTIVE_LOGINS, ACTIVE_LOGINS_PER_WORKER * hashPool.size),
      databaseLanes: LOGIN_DATABASE_LANES,
    }),
    resendPerEmail: new RateLimiter({ name: 'resend-email', limit: 1, windowMs: config.serve.verifyResendIntervalMs }),
    resendPerAddress: new RateLimiter({ name: 'resend-address', limit: 10, windowMs: 3600e3 }),
    async db(request) {
      request.leasedDb ??= await deps.database.acquire();
      return request.leasedDb;
    },
    async lib(request) {
      return { db: await state.db(request), now, actor: request.auth ? `app:${request.auth.user.nickname}` : 'app', reason: null };
    },
    afterAnswer(request, reply, work) {
      const actor = request.auth ? `app:${request.auth.user.nickname}` : 'app';
      afterAnswer.start(reply, `${request.method} ${request.routeOptions.url}`, async () => {
        const db = await deps.database.acquire();
        try {
          await work({ db, now, actor, reason: null });
        } finally {
          deps.database.done();
        }
      });
    },
    async requireAuth(request, reply) {
      const token = bearer(request);
      const auth = token === null ? null : await authenticate(await state.db(request), token, now(), config.serve);
      if (!auth) return reply.code(401).send(UNAUTHORIZED);
      request.auth = auth;
      return undefined;
    },
  };

  const letGo = (request: FastifyRequest) => {
    if (!request.leasedDb) return;
    request.leasedDb = null;
    deps.database.done();
  };
  app.addHook('onResponse', async (request, reply) => {
    letGo(request);
    // The route pattern, never the URL: links carry tokens.
    log(`${request.method} ${request.routeOptions.url ?? '(no route)'} ${reply.statusCode} ${Math.round(reply.elapsedTime)}ms`);
  });
  app.addHook('onRequestAbort', async (request) => letGo(request));
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', EVERY_ANSWER_HEADERS['x-content-type-options']);
    reply.header('referrer-policy', EVERY_ANSWER_HEADERS['referrer-policy']);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', EVERY_ANSWER_HEADERS['cache-control']);
    return payload;
  });

  app.addHook('onRequest', jsonOnlyApi);
  app.addHook('onRequest', sameOriginForms(config.appUrl));

  app.addHook('preValidation', async (request) => {
    if (nestsDeeperThan(request.body, MAX_JSON_DEPTH)) {
      throw new HttpError(400, errorBody(400, `The request body nests deeper than ${MAX_JSON_DEPTH} levels`));
    }
  });

  // Express, which LibreChat runs on, reads an empty JSON body as {}; Node clients send one on
  // logout, refresh, terms accept and 2FA enable. Anything else goes to Fastify's own parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    if (text === '') return done(null, {});
    return parseJson(request, text, done);
  });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(404, `Route ${request.method} ${request.url.split('?')[0].replace(/\/[A-Za-z0-9_-]{20,}(?=\/|$)/g, '/…')} not found`));
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    const mapped = toHttpError(error);
    if (mapped) return sendHttpError(reply, mapped);
    const e = error as { validation?: unknown; statusCode?: number; message?: string; code?: string; stack?: string };
    if (e.validation) return reply.code(400).send(errorBody(400, e.message ?? 'invalid request'));
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send(errorBody(e.statusCode, e.message ?? 'bad request'));
    }
    if (isPoolExhausted(error)) {
      // Every connection was busy for the pool's whole wait: overload, not a fault of the request.
      log(`no free database connection on ${request.method} ${request.routeOptions.url}`);
      return reply.code(503).header('retry-after', '1').send(errorBody(503, 'The server is busy; try again shortly'));
    }
    if (isConnectionLoss(error)) {
      log(`lost the database on ${request.method} ${request.routeOptions.url}: ${e.message}`);
      return reply.code(503).header('retry-after', '5').send(errorBody(503, 'The database is unavailable; try again shortly'));
    }
    log(`internal error on ${request.method} ${request.routeOptions.url}: ${e.stack ?? e.message}`);
    return reply.code(500).send(errorBody(500, 'Internal server error'));
  });

  app.get('/health', async () => ({ status: 'ok' }));
  authRoutes(app, state);
  librechatAuthRoutes(app, state);
  librechat2faRoutes(app, state);
  userRoutes(app, state);
  librechatUserRoutes(app, state);
  fileRoutes(app, state);
  metricsRoutes(app, state);
  pageRoutes(app, state);
  registrationRoutes(app, state);
  consoleRoutes(app, state);
  ssoRoutes(app, state);
  return app;
}

export { HttpError };
export type { AppState };
