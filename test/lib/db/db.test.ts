import { openDatabase, pgConnectionString } from '../../../lib/db/db';
import { createTestDatabase, type TestDatabase } from '../../helpers/backend';

// Issue 12, bug 4: a run that stopped before its first query (`migrate down` refused without a
// TTY) left the pool's probe connection open, keeping the process alive for pg's 10 s idle
// timeout. Closing a handle must let go of every socket, queried or not.
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.destroy());

const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

test('a handle closed without ever being queried leaves no connection open', async () => {
  const before = sockets();
  const handle = await openDatabase({ databaseUrl: tdb.url, dataDir: tdb.dataDir ?? '', lockWaitMs: 10000, schema: 'none' });
  await handle.close();
  expect(sockets()).toBe(before);
});

test('a handle closed after queries leaves no connection open either, and closing twice is harmless', async () => {
  const before = sockets();
  const handle = await openDatabase({ databaseUrl: tdb.url, dataDir: tdb.dataDir ?? '', lockWaitMs: 10000, schema: 'auto' });
  await handle.db.selectFrom('users').select('id').execute();
  await handle.close();
  await handle.close();
  expect(sockets()).toBe(before);
});

// pg 8 reads sslmode=prefer, require and verify-ca as verify-full and prints a 9-line warning
// saying so at every run; ctl names the mode pg uses, so the warning never comes.
test.each([
  [
    'postgres://u:p%40ss@db.example:5432/app?sslmode=require&application_name=x',
    'postgres://u:p%40ss@db.example:5432/app?sslmode=verify-full&application_name=x',
  ],
  ['postgres:///app?host=/var/run/postgresql&sslmode=prefer', 'postgres:///app?host=/var/run/postgresql&sslmode=verify-full'],
  ['postgres://db.example/app?sslrootcert=/etc/ca.pem&sslmode=verify-ca', 'postgres://db.example/app?sslrootcert=/etc/ca.pem&sslmode=verify-full'],
  // libpq's meanings, asked for: left as written.
  ['postgres://db.example/app?sslmode=require&uselibpqcompat=true', 'postgres://db.example/app?sslmode=require&uselibpqcompat=true'],
  ['postgres://db.example/app?sslmode=disable', 'postgres://db.example/app?sslmode=disable'],
  ['postgres://db.example/app?sslmode=verify-full', 'postgres://db.example/app?sslmode=verify-full'],
  ['postgres://db.example/app?xsslmode=require', 'postgres://db.example/app?xsslmode=require'],
  ['postgres://db.example/app', 'postgres://db.example/app'],
])('pgConnectionString(%s)', (url, expected) => {
  expect(pgConnectionString(url)).toBe(expected);
});
