import type { LightMyRequestResponse } from 'fastify';
import type { TestServer } from '../helpers';

/** The cookies a response sets, by name (the value only). */
export function setCookies(res: LightMyRequestResponse): Record<string, string> {
  const header = res.headers['set-cookie'];
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Record<string, string> = {};
  for (const line of list) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    out[pair.slice(0, at)] = decodeURIComponent(pair.slice(at + 1));
  }
  return out;
}

/** The raw Set-Cookie line of one cookie. */
export function setCookieLine(res: LightMyRequestResponse, name: string): string {
  const header = res.headers['set-cookie'];
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const line = list.find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`no Set-Cookie for ${name} in ${JSON.stringify(list)}`);
  return line;
}

/** The CSRF token a page's forms carry. */
export function csrfOf(body: string): string {
  const match = /name="_csrf" value="([A-Za-z0-9_-]+)"/.exec(body);
  if (!match) throw new Error(`no CSRF field in:\n${body.slice(0, 500)}`);
  return match[1];
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** A browser's view of the console over inject: its cookies, and the CSRF token of the last page. */
export class ConsoleClient {
  readonly cookies: Record<string, string> = {};
  csrf = '';

  constructor(private readonly server: TestServer) {}

  private cookieHeader(): string {
    return Object.entries(this.cookies)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  }

  private keep(res: LightMyRequestResponse): LightMyRequestResponse {
    Object.assign(this.cookies, setCookies(res));
    const match = /name="_csrf" value="([A-Za-z0-9_-]+)"/.exec(res.body);
    if (match) this.csrf = match[1];
    return res;
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.keep(await this.server.app.inject({ method: 'GET', url, headers: { cookie: this.cookieHeader(), ...headers } }));
  }

  /** Posts a form; the page's CSRF token is added unless `_csrf` is given (or null: none). */
  async post(url: string, fields: Record<string, string | null>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const body: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== null) body[k] = v;
    if (!('_csrf' in fields)) body._csrf = this.csrf;
    return this.keep(
      await this.server.app.inject({
        method: 'POST',
        url,
        headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: form(body),
      }),
    );
  }

  /** Signs in through the sign-in form; returns the POST's response (and, signed in, takes the session's CSRF token from the first page). */
  async signIn(login: string, password = 'correct-horse', totp = ''): Promise<LightMyRequestResponse> {
    await this.get('/admin/login');
    const res = await this.post('/admin/login', { login, password, totp });
    if (res.statusCode === 303) await this.get('/admin/users');
    return res;
  }
}
