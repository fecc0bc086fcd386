import { Client } from 'pg';
import { useTestServer, type TestServer } from '../helpers';
import { ConsoleClient } from './helpers';

let server: TestServer;
const control = useTestServer((s) => (server = s));

/**
 * Two first administrators at once, on a real server where their transactions truly overlap: the
 * test holds the launchpad's lock while both posts arrive, so both have passed the early "no admin
 * yet" check before either can insert. Released, exactly one is created and the other refused.
 */
test('two launchpad posts in flight at once: exactly one administrator', async () => {
  await control.restart();
  const url = server.config.databaseUrl!;
  const a = new ConsoleClient(server);
  const b = new ConsoleClient(server);
  await a.get('/launchpad');
  await b.get('/launchpad');
  const holder = new Client({ connectionString: url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`SELECT pg_advisory_xact_lock(hashtext('userctl:launchpad'))`);
    let settled = 0;
    const posts = [
      a.post('/launchpad', { nickname: 'first', email: 'first@example.com', password: 'first-password' }),
      b.post('/launchpad', { nickname: 'second', email: 'second@example.com', password: 'second-password' }),
    ].map((p) => p.finally(() => settled++));
    // Until both wait on the lock (or, were it not taken, have finished): at most ~10 s.
    for (let i = 0; i < 200 && settled < 2; i++) {
      const { rows } = await holder.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
      if (rows[0].n === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await holder.query('COMMIT');
    const [ra, rb] = await Promise.all(posts);
    expect([ra.statusCode, rb.statusCode].sort()).toEqual([201, 403]);
  } finally {
    await holder.end();
  }
  const admins = await server.withDb((db) => db.selectFrom('users').select('nickname').where('admin', '=', true).execute());
  expect(admins).toHaveLength(1);
});
