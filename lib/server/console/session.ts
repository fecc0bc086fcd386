// The admin console's session and CSRF handling. A console session is the 'access' token that
// login() (lib/auth/login.ts, the API's own login) issues, carried in an httpOnly SameSite=Strict
// cookie and stored only as its hash, plus a console_sessions row holding the synchronizer CSRF
// token of its forms and its last use. Ending the token (`ctl user sign_out`, deactivate, rm, a
// password reset, the console's own sign-out) ends the console session on its next request. The
// token's own expiry follows the session's idle timeout (it is moved on with every console
// request), so a copy of the cookie is no API bearer once the console session has gone idle,
// whether or not the cookie is ever presented again.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database, UserRow } from '../../db/schema';
import { authenticate, logout } from '../../auth/login';

/** The session cookie: the raw access token (the database keeps its SHA-256 only). */
export const SESSION_COOKIE = 'ctl_console';
/** The sign-in and launchpad forms' CSRF cookie (there is no session yet to bind a token to). */
export const PRE_SESSION_COOKIE = 'ctl_console_form';
/** A console session left unused this long is over, and so is its access token (for the API too). */
export const CONSOLE_IDLE_MS = 30 * 60e3;
/** And at most this long after sign-in, however busy. */
export const CONSOLE_MAX_AGE_MS = 12 * 3600e3;

/** How long the console's token may live at most: the session's cap, or CTL_SESSION_TTL if shorter. */
export function consoleTokenLifeMs(sessionTtlMs: number): number {
  return Math.min(sessionTtlMs, CONSOLE_MAX_AGE_MS);
}

export interface ConsoleSession {
  readonly user: UserRow;
  readonly tokenId: number;
  readonly csrfToken: string;
}

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of a submitted token with the expected one. */
export function sameToken(submitted: unknown, expected: string): boolean {
  if (typeof submitted !== 'string' || submitted === '') return false;
  const a = Buffer.from(submitted, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A cookie of the request, parsed by @fastify/cookie (registered in the console's scope by routes.ts). */
export function readCookie(request: FastifyRequest, name: string): string | null {
  const value = request.cookies?.[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

export interface CookieSettings {
  /** Secure cookies when the app is served over https (APP_URL). */
  readonly secure: boolean;
}

export function cookieSettings(appUrl: string): CookieSettings {
  return { secure: appUrl.startsWith('https:') };
}

function setCookie(reply: FastifyReply, name: string, value: string, path: string, settings: CookieSettings, maxAgeS: number): void {
  reply.setCookie(name, value, { httpOnly: true, sameSite: 'strict', secure: settings.secure, path, maxAge: maxAgeS });
}

export function setSessionCookie(reply: FastifyReply, token: string, settings: CookieSettings): void {
  setCookie(reply, SESSION_COOKIE, token, '/admin', settings, CONSOLE_MAX_AGE_MS / 1000);
}

export function clearSessionCookie(reply: FastifyReply, settings: CookieSettings): void {
  setCookie(reply, SESSION_COOKIE, '', '/admin', settings, 0);
}

/**
 * The CSRF token of a form shown before any session exists (sign-in, launchpad): a double-submit
 * token, kept in a SameSite=Strict cookie and repeated in the form. Reuses the browser's one.
 */
export function preSessionToken(request: FastifyRequest, reply: FastifyReply, settings: CookieSettings): string {
  const existing = readCookie(request, PRE_SESSION_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = newCsrfToken();
  setCookie(reply, PRE_SESSION_COOKIE, token, '/', settings, 3600);
  return token;
}

export function preSessionTokenMatches(request: FastifyRequest, submitted: unknown): boolean {
  const expected = readCookie(request, PRE_SESSION_COOKIE);
  return expected !== null && sameToken(submitted, expected);
}

/**
 * Opens the console session of a login's access token (and forgets sessions past their age). The
 * token expires after the idle timeout unless a console request moves it on (loadConsoleSession).
 */
export async function openConsoleSession(db: Kysely<Database>, tokenId: number, now: Date): Promise<string> {
  await db
    .deleteFrom('console_sessions')
    .where('created_at', '<=', new Date(now.getTime() - CONSOLE_MAX_AGE_MS))
    .execute();
  const csrf = newCsrfToken();
  await db.insertInto('console_sessions').values({ token_id: tokenId, csrf_token: csrf, last_seen_at: now, created_at: now }).execute();
  const idleEnd = new Date(now.getTime() + CONSOLE_IDLE_MS);
  await db
    .updateTable('tokens')
    .set({ expires_at: idleEnd })
    .where('id', '=', tokenId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', idleEnd)]))
    .execute();
  return csrf;
}

export type SessionState = { readonly status: 'ok'; readonly session: ConsoleSession } | { readonly status: 'none' | 'expired' };

/**
 * The console session of a request: its cookie's access token must be live (authenticate, the
 * API's own check: not revoked, not expired, an account that may still log in) and have a console
 * row used within the idle timeout. A live session's last use is moved to now, and its token's
 * expiry to the end of the next idle timeout (never past its life from sign-in): the API takes
 * the token exactly as long as the console would.
 */
export async function loadConsoleSession(
  db: Kysely<Database>,
  request: FastifyRequest,
  now: Date,
  settings: { readonly requireConfirmation: boolean; readonly sessionTtlMs: number },
): Promise<SessionState> {
  const token = readCookie(request, SESSION_COOKIE);
  if (!token) return { status: 'none' };
  const auth = await authenticate(db, token, now, settings);
  if (!auth) return { status: 'expired' };
  const row = await db
    .selectFrom('console_sessions')
    .innerJoin('tokens', 'tokens.id', 'console_sessions.token_id')
    .select(['console_sessions.csrf_token', 'console_sessions.last_seen_at', 'console_sessions.created_at', 'tokens.created_at as token_created_at'])
    .where('console_sessions.token_id', '=', auth.sessionId)
    .executeTakeFirst();
  if (!row) return { status: 'expired' };
  if (row.last_seen_at.getTime() + CONSOLE_IDLE_MS <= now.getTime() || row.created_at.getTime() + CONSOLE_MAX_AGE_MS <= now.getTime()) {
    // Ended: its token too, which the API would otherwise still take as a bearer.
    await logout(db, auth.sessionId, now);
    return { status: 'expired' };
  }
  const idleEnd = Math.min(now.getTime() + CONSOLE_IDLE_MS, row.token_created_at.getTime() + consoleTokenLifeMs(settings.sessionTtlMs));
  // The session's last use and its token's expiry, in one statement (one round trip per request).
  await db
    .with('seen', (qb) => qb.updateTable('console_sessions').set({ last_seen_at: now }).where('token_id', '=', auth.sessionId))
    .updateTable('tokens')
    .set({ expires_at: new Date(idleEnd) })
    .where('id', '=', auth.sessionId)
    .where('revoked_at', 'is', null)
    .execute();
  return { status: 'ok', session: { user: auth.user, tokenId: auth.sessionId, csrfToken: row.csrf_token } };
}
