// What app.ts does for every route: the authentication guard, the 404 handler, health, security
// headers and the request log.
import { bearer, useTestServer, type TestServer } from './helpers';

let server: TestServer;
const control = useTestServer((s) => (server = s));

const UNAUTHORIZED = { error: 'Unauthorized', message: 'You must be logged in to access this resource' };

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token?: string, payload?: unknown) =>
  server.app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload === undefined ? {} : { payload: payload as object }) });

describe('every authenticated endpoint answers 401 with the reference body without a token', () => {
  beforeAll(() => control.restart());
  test.each([
    ['GET', '/api/user'],
    ['POST', '/api/user/plugins'],
    ['DELETE', '/api/user/delete'],
    ['GET', '/api/user/terms'],
    ['POST', '/api/user/terms/accept'],
    ['GET', '/api/user/settings'],
    ['PUT', '/api/user/settings'],
    ['GET', '/api/balance'],
    ['POST', '/api/files/images/avatar'],
    ['POST', '/api/auth/logout'],
    ['POST', '/api/auth/2fa/enable'],
  ] as const)('%s %s', async (method, url) => {
    const res = await call(method, url, undefined, method === 'GET' || method === 'DELETE' ? undefined : {});
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual(UNAUTHORIZED);
  });
});

describe('odds and ends', () => {
  beforeAll(() => control.restart());
  test('unknown routes are 404 JSON and never echo a token', async () => {
    const res = await server.app.inject({ method: 'GET', url: `/api/nope/${'F'.repeat(43)}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'Not Found', message: 'Route GET /api/nope/… not found' });
  });
  test('a URL the router cannot read (a malformed escape after a token, a segment too long) is the API’s JSON error with the usual headers, echoes no token, and is logged without the URL', async () => {
    // Listening on loopback: inject() would not go through Node's HTTP server as a client does.
    const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const token = 'T'.repeat(43);
    for (const [path, status, message] of [
      [`/password_reset/${token}%`, 400, 'The URL is not valid (a malformed percent-escape)'],
      [`/api/user/${token}%E0%A4%A`, 400, 'The URL is not valid (a malformed percent-escape)'],
      [`/verify/${token}${'x'.repeat(100)}`, 414, 'A part of the URL is too long'],
    ] as const) {
      const res = await fetch(`${base}${path}`);
      const text = await res.text();
      expect([path, res.status, JSON.parse(text)]).toEqual([path, status, { error: status === 414 ? 'URI Too Long' : 'Bad Request', message }]);
      expect(text).not.toContain('TTTT');
      expect(Object.fromEntries(['x-content-type-options', 'referrer-policy', 'cache-control'].map((h) => [h, res.headers.get(h)]))).toEqual({
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
      });
    }
    expect(server.log.filter((l) => /^GET \(no route\) 4(00|14)$/.test(l))).toEqual(['GET (no route) 400', 'GET (no route) 400', 'GET (no route) 414']);
    expect(server.log.join('\n')).not.toContain('TTTT');
  });
  test('health and security headers', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/health' });
    expect(res.json()).toEqual({ status: 'ok' });
    expect(res.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' });
  });
});

describe('the request log', () => {
  test('names route patterns, never the URL (links carry tokens)', async () => {
    await control.restart();
    await server.app.inject({ method: 'GET', url: `/password_reset/${'D'.repeat(43)}` });
    // The line is written by the onResponse hook, which may run just after inject() resolves.
    for (let i = 0; i < 100 && !server.log.some((l) => l.startsWith('GET /password_reset')); i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.log.filter((l) => l.startsWith('GET /password_reset'))).toEqual([expect.stringMatching(/^GET \/password_reset\/:token 404 \d+ms$/)]);
    expect(server.log.join('\n')).not.toContain('DDDD');
  });
});
