import axios, { type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { CookieJar } from 'tough-cookie';
import type * as Ldp from 'librechat-data-provider';

/**
 * LibreChat's own client, `librechat-data-provider`, made to run under Node against a real server:
 * the browser it expects is a small `window` (events, localStorage, location), the cookie store is
 * a tough-cookie jar wired into the axios instance the package itself uses, and its base URL is
 * axios's. Nothing of the package is replaced: requests go through its dataService, its request
 * layer, its token header and its 401 → refresh interceptors, which it installs only when it finds
 * a `window` as it loads, so this module sets one up before requiring it. Test files import the
 * package through this module only.
 */

/** What the package's window events said: tokens it installed, logins it sent the user to. */
export interface ClientEvents {
  readonly tokensUpdated: string[];
  readonly loginRedirects: string[];
}

interface FakeWindow {
  addEventListener: EventTarget['addEventListener'];
  dispatchEvent: EventTarget['dispatchEvent'];
  location: { href: string; pathname: string; search: string; hash: string; origin: string };
  localStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void; clear(): void };
  atob(data: string): string;
  __librechatAuthRecovery?: unknown;
}

/**
 * The package only asks `typeof window !== 'undefined'`; PGlite's Emscripten code takes
 * `typeof window == 'object'` to mean a browser and stops loading. A function object satisfies
 * the one and not the other.
 */
function makeWindow(): FakeWindow {
  const store = new Map<string, string>();
  const events = new EventTarget();
  return Object.assign(function window() {}, {
    addEventListener: events.addEventListener.bind(events),
    dispatchEvent: events.dispatchEvent.bind(events),
    location: { href: 'http://client.test/c/new', pathname: '/c/new', search: '', hash: '', origin: 'http://client.test' },
    localStorage: {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, String(v)),
      removeItem: (k: string) => void store.delete(k),
      clear: () => store.clear(),
    },
    atob: (data: string) => Buffer.from(data, 'base64').toString('binary'),
  });
}

const win = makeWindow();
(globalThis as unknown as { window: FakeWindow }).window = win;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after `window` exists
const ldp = require('librechat-data-provider') as typeof Ldp;

export const { dataService, request, setTokenHeader } = ldp;
export type { Ldp };

let jar = new CookieJar();
const events: { tokensUpdated: string[]; loginRedirects: string[] } = { tokensUpdated: [], loginRedirects: [] };
win.addEventListener('tokenUpdated', (e) => events.tokensUpdated.push(String((e as CustomEvent).detail)));
win.addEventListener('authRedirectStarted', (e) => events.loginRedirects.push(String((e as CustomEvent<{ href: string }>).detail.href)));

async function keepCookies(response: AxiosResponse | undefined): Promise<void> {
  if (!response) return;
  const setCookie = response.headers['set-cookie'];
  const url = axios.getUri(response.config);
  for (const line of setCookie ?? []) await jar.setCookie(line, url);
}

// The browser's part: send the jar's cookies, keep the ones that come back (also on errors).
axios.interceptors.request.use(async (config: InternalAxiosRequestConfig) => {
  const cookies = await jar.getCookieString(axios.getUri(config));
  if (cookies) config.headers.set('Cookie', cookies);
  return config;
});
axios.interceptors.response.use(
  async (response) => {
    await keepCookies(response);
    return response;
  },
  async (error: Error & { response?: AxiosResponse }) => {
    await keepCookies(error.response);
    throw error;
  },
);

/** The client as a fresh browser tab on `baseUrl`: no token, no cookies, no pending recovery. */
export function resetClient(baseUrl: string): ClientEvents {
  axios.defaults.baseURL = baseUrl;
  setTokenHeader(undefined);
  jar = new CookieJar();
  win.localStorage.clear();
  delete win.__librechatAuthRecovery;
  events.tokensUpdated.length = 0;
  events.loginRedirects.length = 0;
  return events;
}

/** The cookies the jar holds for a URL, as `Cookie` objects (attributes included). */
export function cookiesFor(url: string) {
  return jar.getCookies(url);
}

/** The status and body of a failed package call (axios's error), or throws if it succeeded. */
export async function failure(call: Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    const response = (error as { response?: AxiosResponse }).response;
    if (!response) throw error;
    return { status: response.status, body: response.data as Record<string, unknown> };
  }
  throw new Error('the call succeeded');
}
