import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { PG_ADMIN_URL } from '../setup/paths';

/** Debian's PgBouncer (`apt-get install pgbouncer`, which .ci/run does); not its packaged service. */
export const PGBOUNCER_BIN = process.env.CTL_TEST_PGBOUNCER ?? '/usr/sbin/pgbouncer';

/** A PgBouncer of the test's own, in transaction pooling mode, in front of the test server. */
export interface PgBouncer {
  readonly port: number;
  readonly poolSize: number;
  /** `direct` (a URL of the test server) rewritten to go through this PgBouncer: same user and database. */
  url(direct: string): string;
  /**
   * Opens all `poolSize` server connections to `direct`'s database (as many transactions at once),
   * so the next transactions are handed out in turn over all of them. PgBouncer opens them only
   * when clients need them at once: without this, one client alone keeps reusing the first.
   */
  fill(direct: string): Promise<void>;
  /** What PgBouncer logged so far (its stderr), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function config(dir: string, port: number, poolSize: number): string {
  const upstream = new URL(PG_ADMIN_URL);
  return [
    '[databases]',
    // Every database of the test server, under its own name (each test file makes its own).
    `* = host=${upstream.hostname} port=${upstream.port || 5432}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'pool_mode = transaction',
    // Small, and handed out in turn rather than most-recently-used first: consecutive
    // transactions of one client land on different server connections, as they do on a busy
    // production pooler, so anything that relies on session state shows it.
    `default_pool_size = ${poolSize}`,
    'server_round_robin = 1',
    'max_client_conn = 200',
    // The test server trusts 127.0.0.1; PgBouncer only needs to know the user.
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'users.txt')}`,
    '',
  ].join('\n');
}

async function waitUntilServing(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}) at start: ${log().slice(-1500)}`);
    const client = new Client({ host: '127.0.0.1', port, user: new URL(PG_ADMIN_URL).username || 'postgres', database: 'postgres' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`pgbouncer did not serve on 127.0.0.1:${port}: ${(error as Error).message}; ${log().slice(-1500)}`, { cause: error });
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/**
 * Starts PgBouncer in the foreground as a child process, with a throwaway config in a temporary
 * directory: transaction pooling, 127.0.0.1 on a free port, `poolSize` server connections per
 * database (default 2: a bulk verb pins one for its lock, its batches use another). Root (CI) may
 * not run it, so there it drops to `nobody` (`-u`), which is why its files are world-readable
 * (they hold no secret: the test server trusts loopback). Fails, never skips, when it is missing.
 */
export async function startPgBouncer(opts: { poolSize?: number } = {}): Promise<PgBouncer> {
  if (!fs.existsSync(PGBOUNCER_BIN)) {
    throw new Error(`PgBouncer is not installed (${PGBOUNCER_BIN} is missing): apt-get install pgbouncer (.ci/run does), or set CTL_TEST_PGBOUNCER`);
  }
  const poolSize = opts.poolSize ?? 2;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-pgbouncer-'));
  fs.chmodSync(dir, 0o755);
  const user = new URL(PG_ADMIN_URL).username || 'postgres';
  fs.writeFileSync(path.join(dir, 'users.txt'), `"${user}" ""\n`, { mode: 0o644 });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const ini = path.join(dir, 'pgbouncer.ini');
    fs.writeFileSync(ini, config(dir, port, poolSize), { mode: 0o644 });
    const asRoot = process.getuid?.() === 0;
    const child = spawn(PGBOUNCER_BIN, [...(asRoot ? ['-u', 'nobody'] : []), ini], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    try {
      await waitUntilServing(port, child, () => output);
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      // Another process took the free port between our look and PgBouncer's bind: try another.
      if (attempt < 3 && /Address already in use/.test(output)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const url = (direct: string): string => {
      const u = new URL(direct);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    };
    return {
      port,
      poolSize,
      url,
      async fill(direct) {
        const clients = Array.from({ length: poolSize }, () => new Client({ connectionString: url(direct) }));
        try {
          for (const c of clients) await c.connect();
          await Promise.all(clients.map((c) => c.query('BEGIN')));
          await Promise.all(clients.map((c) => c.query('COMMIT')));
        } finally {
          for (const c of clients) await c.end().catch(() => undefined);
        }
      },
      log: () => output,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          // SIGTERM: immediate shutdown (SIGINT would wait for open transactions).
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(killer);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** A PgBouncer for one test file: started before its tests, stopped after. `use` receives it. */
export function usePgBouncer(use: (bouncer: PgBouncer) => void, opts: { poolSize?: number } = {}): void {
  let bouncer: PgBouncer | undefined;
  beforeAll(async () => {
    bouncer = await startPgBouncer(opts);
    use(bouncer);
  });
  afterAll(async () => {
    await bouncer?.stop();
  });
}
