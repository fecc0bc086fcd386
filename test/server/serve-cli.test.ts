import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { CTL, ctlEnv, runCtl } from '../helpers/cli';

/** `ctl serve` as a process: start-up, settings, running beside other ctl commands, stopping. */
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb?.destroy());

interface Served {
  readonly child: ChildProcessWithoutNullStreams;
  readonly base: string;
  stderr(): string;
  exit: Promise<number | null>;
}

function serve(args: string[] = [], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [CTL, 'serve', '--port', '0', ...args], { env: ctlEnv(tdb, env) });
  let err = '';
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ctl serve did not start: ${err}`)), 20000);
    child.stderr.on('data', (d) => {
      err += d;
      const match = /^Listening on (http:\/\/127\.0\.0\.1:\d+) /m.exec(err);
      if (match) {
        clearTimeout(timer);
        resolve({ child, base: match[1], stderr: () => err, exit });
      }
    });
    void exit.then((code) => reject(new Error(`ctl serve exited ${code}: ${err}`)));
  });
}

test('serves, lets other ctl commands run beside it, logs route patterns, and stops on SIGTERM with exit 0', async () => {
  const s = await serve();
  try {
    expect(await (await fetch(`${s.base}/health`)).json()).toEqual({ status: 'ok' });
    // On the embedded database the server lets go of the data directory when idle: ctl runs beside it.
    const created = await runCtl(tdb, ['user', 'new', 'alice', 'alice@example.com', '-y', '--password-stdin'], { input: 'alices-password\n' });
    expect(created.code).toBe(0);
    const login = await fetch(`${s.base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: 'alice', password: 'alices-password' }),
    });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const signOut = await runCtl(tdb, ['user', 'sign_out', 'alice']);
    expect(signOut.code).toBe(0);
    expect((await fetch(`${s.base}/api/user`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  } finally {
    s.child.kill('SIGTERM');
  }
  expect(await s.exit).toBe(0);
  expect(s.stderr()).toMatch(/^POST \/api\/auth\/login 200 \d+ms$/m);
  expect(s.stderr()).toMatch(/^GET \/api\/user 401 \d+ms$/m);
  expect(s.stderr()).toContain('Stopping (SIGTERM): finishing the requests under way\n');
}, 60000);

test.each([
  [{ CTL_SERVE_PORT: '70000' }, 'CTL_SERVE_PORT has a bad value "70000": must be between 0 and 65535\n'],
  [{ CTL_REQUIRE_CONFIRMATION: 'maybe' }, 'CTL_REQUIRE_CONFIRMATION has a bad value "maybe": expected true or false\n'],
  [{ CTL_SESSION_TTL: 'forever' }, 'CTL_SESSION_TTL has a bad value "forever": expected a duration like 24h, 7d or 2w\n'],
  [{ CTL_TERMS_VERSION: 'two words' }, 'CTL_TERMS_VERSION has a bad value "two words": expected 1-64 visible ASCII characters\n'],
  [
    { CTL_TRUST_PROXY: 'true' },
    'CTL_TRUST_PROXY has a bad value "true": trusting every proxy lets a client choose its own address; give the number of proxies in front of ctl serve (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8)\n',
  ],
])('a bad setting %j is exit 6 naming the variable', async (env, message) => {
  const r = await runCtl(tdb, ['serve'], { env });
  expect(r).toMatchObject({ code: 6, stdout: '', stderr: message });
});

test('--port out of range is exit 2; a port in use is exit 6', async () => {
  const bad = await runCtl(tdb, ['serve', '--port', '99999']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toBe('--port must be a whole number from 0 to 65535, got 99999\n');
  const s = await serve();
  try {
    const port = new URL(s.base).port;
    const busy = await runCtl(tdb, ['serve', '--port', port]);
    expect(busy.code).toBe(6);
    expect(busy.stderr).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`);
  } finally {
    s.child.kill('SIGTERM');
    await s.exit;
  }
}, 60000);

test('--help shows the usage and an example', async () => {
  const r = await runCtl(null, ['serve', '--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('ctl serve --host 0.0.0.0 --port 8080');
});
