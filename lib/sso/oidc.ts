// OpenID Connect sign-in (issue 16): authorization code with PKCE, state and nonce, through
// openid-client (discovery, ID token validation: signature, issuer, audience, expiry, nonce).
import { randomBytes } from 'node:crypto';
import type { Configuration } from 'openid-client';
import type { LibContext } from '../lib-context';
import type { OidcSettings } from './settings';
import { LoginFailedError } from '../auth/login';
import { UnavailableError } from '../errors';
import { externalLogin, type ExternalProfile, type ExternalSession, type IdentitySettings } from './identity';

type OpenIdClient = typeof import('openid-client');

// openid-client 6 is ESM-only: loaded with a real import() (kept by tsc in CommonJS output), and
// only once OpenID Connect is used.
let library: Promise<OpenIdClient> | null = null;
const openidClient = (): Promise<OpenIdClient> => (library ??= import('openid-client'));

/** The flow's secrets, kept in the browser's own HttpOnly cookie between the redirect and the callback. */
export interface OidcFlow {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

export function encodeFlow(flow: OidcFlow): string {
  return Buffer.from(JSON.stringify([flow.state, flow.nonce, flow.codeVerifier])).toString('base64url');
}

export function decodeFlow(text: string | undefined): OidcFlow | null {
  if (!text || text.length > 1000) return null;
  try {
    const parts: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(parts) || parts.length !== 3 || !parts.every((p) => typeof p === 'string' && /^[A-Za-z0-9_-]{16,200}$/.test(p))) return null;
    const [state, nonce, codeVerifier] = parts as string[];
    return { state, nonce, codeVerifier };
  } catch {
    return null;
  }
}

/** The provider's discovered configuration, per issuer and client; a failed discovery is retried next time. */
const configurations = new Map<string, Promise<Configuration>>();

async function configuration(settings: OidcSettings): Promise<Configuration> {
  const key = `${settings.issuer} ${settings.clientId}`;
  let found = configurations.get(key);
  if (!found) {
    found = (async () => {
      const client = await openidClient();
      return client.discovery(new URL(settings.issuer), settings.clientId, undefined, client.ClientSecretPost(settings.clientSecret), {
        execute: settings.insecureLoopback ? [client.allowInsecureRequests] : [],
        timeout: 10,
      });
    })();
    configurations.set(key, found);
    found.catch(() => configurations.delete(key));
  }
  try {
    return await found;
  } catch (error) {
    throw new UnavailableError(`The OpenID provider's discovery failed: ${reason(error)}`);
  }
}

function reason(error: unknown): string {
  const e = error as { message?: string; error?: string; code?: string; cause?: unknown };
  // openid-client's own message is generic ("invalid response encountered"); its cause names the check.
  const detail = e?.cause instanceof Error ? e.cause.message : null;
  return (e?.error ?? detail ?? e?.message ?? e?.code ?? 'unknown error').split('\n')[0].slice(0, 200);
}

/** Where the provider sends the browser back. */
export function redirectUri(appUrl: string): string {
  return `${appUrl}/api/auth/oidc/callback`;
}

/** Starts a login: the provider's authorization URL (code flow, S256 PKCE, state, nonce) and the flow to keep. */
export async function beginOidcLogin(settings: OidcSettings, appUrl: string): Promise<{ url: string; flow: OidcFlow }> {
  const client = await openidClient();
  const config = await configuration(settings);
  const flow: OidcFlow = {
    state: randomBytes(24).toString('base64url'),
    nonce: randomBytes(24).toString('base64url'),
    codeVerifier: client.randomPKCECodeVerifier(),
  };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri(appUrl),
    scope: settings.scopes,
    response_type: 'code',
    state: flow.state,
    nonce: flow.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(flow.codeVerifier),
    code_challenge_method: 'S256',
  });
  return { url: url.href, flow };
}

type Claims = Readonly<Record<string, unknown>>;

/** The claims as the identity core's profile: `sub` is the subject; the admin claim may be a string or a list. */
export function oidcProfile(settings: OidcSettings, claims: Claims): ExternalProfile {
  const text = (name: string): string | null => (typeof claims[name] === 'string' && claims[name] !== '' ? claims[name] : null);
  let admin: boolean | null = null;
  if (settings.adminClaim && settings.adminValue) {
    const value = claims[settings.adminClaim];
    const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
    admin = values.some((v) => String(v) === settings.adminValue);
  }
  return {
    provider: 'oidc',
    subject: String(claims.sub),
    email: text('email'),
    emailVerified: claims.email_verified === true,
    username: text(settings.usernameClaim),
    name: text(settings.nameClaim),
    admin,
  };
}

/**
 * Ends a login at the callback: the code is exchanged (with the PKCE verifier) only when the
 * returned state is the flow's, the ID token must validate and carry the flow's nonce, and claims
 * the ID token leaves out (email, name, groups) come from the userinfo endpoint for the same
 * subject. Any mismatch is a 401; then the identity core opens the session.
 */
export async function completeOidcLogin(
  ctx: LibContext,
  settings: OidcSettings,
  identity: IdentitySettings,
  appUrl: string,
  query: string,
  flow: OidcFlow | null,
): Promise<ExternalSession> {
  if (!flow) throw new LoginFailedError('No OpenID Connect login is under way in this browser (its cookie is missing or expired); start again');
  const client = await openidClient();
  const config = await configuration(settings);
  let claims: Record<string, unknown>;
  try {
    const tokens = await client.authorizationCodeGrant(config, new URL(`${redirectUri(appUrl)}?${query}`), {
      pkceCodeVerifier: flow.codeVerifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    claims = { ...tokens.claims() };
    if (claims.email === undefined || claims[settings.nameClaim] === undefined || (settings.adminClaim && claims[settings.adminClaim] === undefined)) {
      if (config.serverMetadata().userinfo_endpoint) {
        const info = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub));
        claims = { ...info, ...claims };
      }
    }
  } catch (error) {
    if (error instanceof UnavailableError) throw error;
    throw new LoginFailedError(`The OpenID provider's answer was refused: ${reason(error)}`);
  }
  return externalLogin(ctx, identity, oidcProfile(settings, claims));
}
