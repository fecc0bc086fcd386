import { sql } from 'kysely';
import { addUser, bearer, loginAs, useTestServer, type TestServer } from './helpers';

/**
 * Overload of the database pool (issue 13, finding 2): when every connection stays busy past the
 * pool's wait (5 s), a request is answered 503 with Retry-After, not 500. PostgreSQL only: the
 * embedded database has one connection and no such wait.
 */
let server: TestServer;
const control = useTestServer((s) => (server = s));

test('every pooled connection busy for longer than the pool waits: GET /api/user is 503 with Retry-After, then 200 once they are free', async () => {
  await control.restart();
  await addUser(server, { nickname: 'alice' });
  const token = await loginAs(server, 'alice');
  const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
  // The test server's pool has 4 connections: hold them all for 6 s.
  const held = server.withDb((db) => Promise.all(Array.from({ length: 4 }, () => sql`SELECT pg_sleep(6)`.execute(db))));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const busy = await fetch(`${base}/api/user`, { headers: bearer(token) });
  expect(busy.status).toBe(503);
  expect(busy.headers.get('retry-after')).toBe('1');
  expect(await busy.json()).toEqual({ error: 'Service Unavailable', message: 'The server is busy; try again shortly' });
  await held;
  expect((await fetch(`${base}/api/user`, { headers: bearer(token) })).status).toBe(200);
  expect(server.log.some((line) => line.startsWith('internal error'))).toBe(false);
}, 30000);
