import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { CTL, ctlEnv, runCtl } from '../helpers/cli';

/**
 * Several `ctl serve` processes on one PostgreSQL database, as behind a load balancer (issue 13):
 * an attack spread round-robin over them meets one limit in total, not one per process.
 */
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
  const created = await runCtl(tdb, ['user', 'new', 'alice', 'alice@example.com', '-y', '--password-stdin'], { input: 'correct-horse\n' });
  expect(created.code).toBe(0);
});
afterAll(() => tdb?.destroy());

interface Served {
  readonly child: ChildProcessWithoutNullStreams;
  readonly base: string;
  readonly exit: Promise<number | null>;
}

function serve(): Promise<Served> {
  const child = spawn(process.execPath, [CTL, 'serve', '--port', '0'], { env: ctlEnv(tdb) });
  let err = '';
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ctl serve did not start: ${err}`)), 20000);
    child.stderr.on('data', (d) => {
      err += d;
      const match = /^Listening on (http:\/\/127\.0\.0\.1:\d+) /m.exec(err);
      if (match) {
        clearTimeout(timer);
        resolve({ child, base: match[1], exit });
      }
    });
    void exit.then((code) => reject(new Error(`ctl serve exited ${code}: ${err}`)));
  });
}

let servers: Served[] = [];
beforeEach(async () => {
  await tdb.withDb((h) => h.db.deleteFrom('login_limits').execute());
  servers = await Promise.all([serve(), serve(), serve()]);
});
afterEach(async () => {
  for (const s of servers) s.child.kill('SIGTERM');
  expect(await Promise.all(servers.map((s) => s.exit))).toEqual([0, 0, 0]);
});

/** Sends request i to server i mod 3. */
async function login(i: number, payload: object): Promise<number> {
  const res = await fetch(`${servers[i % 3].base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  await res.arrayBuffer();
  return res.status;
}

function tally(statuses: readonly number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}

test('15 simultaneous wrong guesses at one account, round-robin over three servers: 5 are checked in total, then the right password is refused everywhere', async () => {
  const statuses = await Promise.all(Array.from({ length: 15 }, (_, i) => login(i, { login: 'alice', password: `wrong-horse-${i}` })));
  expect(tally(statuses)).toEqual({ 401: 5, 429: 10 });
  for (let i = 0; i < 3; i++) expect(await login(i, { login: 'alice', password: 'correct-horse' })).toBe(429);
});

test('30 guesses at different logins from one address, round-robin over three servers: 20 are checked in total (the per-address limit)', async () => {
  const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => login(i, { login: `nobody${i}`, password: 'wrong-horse' })));
  expect(tally(statuses)).toEqual({ 401: 20, 429: 10 });
});

test('a success on one server forgives the failures counted by the others', async () => {
  for (let i = 0; i < 4; i++) expect(await login(i, { login: 'alice', password: 'wrong-horse' })).toBe(401);
  expect(await login(1, { login: 'alice', password: 'correct-horse' })).toBe(200);
  for (let i = 0; i < 5; i++) expect(await login(i, { login: 'alice', password: 'wrong-horse' })).toBe(401);
  expect(await login(2, { login: 'alice', password: 'wrong-horse' })).toBe(429);
});
