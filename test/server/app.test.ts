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
