import { type TestDatabase, useCliTestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';

// A managed PostgreSQL's URL often ends in ?sslmode=require. pg 8 checks the server's certificate
// for it (as for verify-full) and printed a 9-line SECURITY WARNING on every run, which cron mails.
// Now: no warning, and a server that cannot satisfy the mode is the usual one line, exit 6.

let tdb: TestDatabase;
useCliTestDatabase((d) => (tdb = d));

const withMode = (query: string) => `${tdb.url!}?${query}`;

test.each(['sslmode=require', 'sslmode=prefer', 'sslmode=verify-ca'])('%s: one line, exit 6, no warning', async (query) => {
  const r = await runCtl(tdb, ['user', 'count'], { env: { DATABASE_URL: withMode(query) } });
  // This test server speaks no TLS (or has a certificate no CA of this machine signed): either way
  // the mode cannot be met, and ctl says so as it says any other connection failure.
  expect(r.code).toBe(6);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(new RegExp(`^cannot reach the database at ${withMode(query).replace(/[.?]/g, '\\$&')}: [^\\n]+\\n$`));
  expect(r.stderr).not.toContain('WARNING');
});

test('sslmode=disable connects as before', async () => {
  const r = await runCtl(tdb, ['user', 'count'], { env: { DATABASE_URL: withMode('sslmode=disable') } });
  expect(r).toMatchObject({ code: 0, stderr: '' });
});
