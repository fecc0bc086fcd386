import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LibContext } from '../../lib-context';
import type { AppState } from '../state';
import { toApiUser } from '../account';
import { beginOidcLogin, completeOidcLogin, decodeFlow, encodeFlow } from '../../sso/oidc';
import { completeSamlLogin, SAML_PATH, samlLoginUrl, samlMetadata } from '../../sso/saml';
import { HttpError, clientAddress, errorBody } from '../http';
import { html, message, sendPage } from '../html';
import { activeSsoMethod } from '../../sso/settings';
import { ssoCallbackRule, throttleSsoCallback } from '../../sso/callback-throttle';

const FLOW_COOKIE = 'ctl_oidc';
const FLOW_PATH = '/api/auth/oidc';

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Single sign-on's browser routes (issue 16). OpenID Connect: `GET /api/auth/oidc/login` redirects
 * to the provider and keeps the flow's state, nonce and PKCE verifier in an HttpOnly, SameSite=Lax
 * cookie of this browser (10 minutes, this path only); `GET /api/auth/oidc/callback` checks them
 * and answers with the same session as `POST /api/auth/login`. SAML: the SP metadata, a login
 * redirect (HTTP-Redirect binding) and the assertion consumer (HTTP-POST binding). LDAP needs no
 * route of its own: it answers `POST /api/auth/login`.
 *
 * Both callbacks are limited per client address (lib/sso/callback-throttle.ts) before they ask the
 * provider anything or read any XML; an OpenID callback without a flow cookie is refused before
 * that, counting nothing, as it costs nothing.
 */
export function ssoRoutes(app: FastifyInstance, state: AppState): void {
  const { config } = state;
  const identity = { ...config.sso, requireConfirmation: config.serve.requireConfirmation, sessionTtlMs: config.serve.sessionTtlMs };
  const method = activeSsoMethod(config.sso);
  const callbackRule = ssoCallbackRule(config.serve);
  const throttled = async <T>(request: FastifyRequest, attempt: (ctx: LibContext) => Promise<T>): Promise<T> => {
    const ctx = await state.lib(request);
    return throttleSsoCallback(ctx.db, callbackRule, clientAddress(request), ctx.now().getTime(), () => attempt(ctx));
  };
  if (method) {
    // Accounts are made at the first login through the identity provider (Overleaf's rule): a
    // self-made account here would have a password no login checks.
    const why = `Registration is closed: accounts are created at the first sign-in through single sign-on (${method})`;
    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url;
      if (route === '/api/auth/register') throw new HttpError(403, errorBody(403, why));
      if (route === '/registration/:token') return sendPage(reply, 403, 'Create your account', html`${message('error', why)}`);
      return undefined;
    });
  }
  const saml = config.sso.saml;
  if (saml) {
    app.get(`${SAML_PATH}/metadata`, async (_request, reply) => reply.type('application/samlmetadata+xml').send(samlMetadata(saml, config.appUrl)));
    app.get(`${SAML_PATH}/login`, async (_request, reply) => reply.header('cache-control', 'no-store').redirect(await samlLoginUrl(saml, config.appUrl), 302));
    // The IdP's page posts the response here from its own origin (the HTTP-POST binding), so this
    // one /api/ route takes a form body: the response authenticates itself by its signature.
    app.post<{ Body: Record<string, unknown> }>(`${SAML_PATH}/callback`, { config: { bodyTypes: ['application/x-www-form-urlencoded'] } }, async (request) => {
      const response = request.body?.SAMLResponse;
      if (typeof response !== 'string' || response.length === 0 || response.length > 60000) {
        throw new HttpError(400, errorBody(400, 'Expected a SAMLResponse form field'));
      }
      const session = await throttled(request, (ctx) => completeSamlLogin(ctx, saml, identity, config.appUrl, response));
      return { token: session.token, expiresAt: session.expiresAt, user: toApiUser(session.user, config.serve.termsVersion) };
    });
  }
  const oidc = config.sso.oidc;
  if (!oidc) return;
  const secure = config.appUrl.startsWith('https:') ? '; Secure' : '';

  app.get(`${FLOW_PATH}/login`, async (_request, reply) => {
    const { url, flow } = await beginOidcLogin(oidc, config.appUrl);
    return reply
      .header('set-cookie', `${FLOW_COOKIE}=${encodeFlow(flow)}; Path=${FLOW_PATH}; Max-Age=600; HttpOnly; SameSite=Lax${secure}`)
      .header('cache-control', 'no-store')
      .redirect(url, 302);
  });

  app.get(`${FLOW_PATH}/callback`, async (request, reply) => {
    // Single use: the cookie goes whatever the outcome, so a refused answer cannot be retried with it.
    reply.header('set-cookie', `${FLOW_COOKIE}=; Path=${FLOW_PATH}; Max-Age=0; HttpOnly; SameSite=Lax${secure}`).header('cache-control', 'no-store');
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    const flow = decodeFlow(cookieValue(request.headers.cookie, FLOW_COOKIE));
    const session = flow
      ? await throttled(request, (ctx) => completeOidcLogin(ctx, oidc, identity, config.appUrl, query, flow))
      : await completeOidcLogin(await state.lib(request), oidc, identity, config.appUrl, query, null);
    return { token: session.token, expiresAt: session.expiresAt, user: toApiUser(session.user, config.serve.termsVersion) };
  });
}
