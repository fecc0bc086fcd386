import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { loadConfig, type Config } from '../../lib/config';
import type { Database } from '../../lib/db/schema';
import type { LibContext } from '../../lib/lib-context';
import { createMailer, type Mailer, type OutgoingMail } from '../../lib/mail/mailer';
import { ServerDatabase } from '../../lib/server/database';
import { buildServer } from '../../lib/server/app';
import { createUser, planNewUser, type NewUserInput } from '../../lib/user/new';
import { createOpenTestDatabase, truncateAll, type OpenTestDatabase, type TestDatabase } from '../helpers/backend';
import type { CtlOptions, CtlResult } from '../helpers/cli';
import { ctl as runCtlInProcess, holdTestDatabase } from '../helpers/in-process';

/** A mailer that keeps what it was asked to send. */
export class MemoryMailer implements Mailer {
  readonly describe = 'memory';
  readonly sent: OutgoingMail[] = [];
  async send(mail: OutgoingMail) {
    this.sent.push(mail);
    return { messageId: `<${this.sent.length}@test>`, accepted: [mail.to.address] };
  }
  /**
   * Resolves once `count` mails have been sent (rejects after `timeoutMs`): the reset and
   * verification mails go out after the answer (lib/server/after-answer.ts).
   */
  async waitFor(count: number, timeoutMs = 10000): Promise<OutgoingMail[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.sent.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} mail(s), got ${this.sent.length}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.sent.slice(0, count);
  }
  close(): void {}
}

export interface TestServer {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly database: ServerDatabase;
  readonly mailer: MemoryMailer;
  readonly log: string[];
  /** The server's clock: tests move it. */
  clock: Date;
  /** Runs fn with the database the server uses (held like a request holds it). */
  withDb<T>(fn: (db: Kysely<Database>, ctx: LibContext) => Promise<T>): Promise<T>;
  /**
   * Runs a command line in-process, through the real parser and runner, against the same
   * database (test/helpers/in-process.ts). The server lets go of the database first, as it does
   * for a CLI beside it, and takes it again on its next request.
   */
  ctl(args: readonly string[], opts?: CtlOptions): Promise<CtlResult>;
  /** Resolves once the work routes do after their answers is done (to check that it did nothing). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** The server on a test database, with the settings a spawned ctl would read from `env`. */
export async function startServer(tdb: TestDatabase, env: Record<string, string> = {}): Promise<TestServer> {
  const fullEnv = { CTL_ENV_FILE: '', CTL_BCRYPT_COST: '4', APP_URL: 'http://ctl.test', USER: 'tester', ...tdb.env, ...env };
  const config = loadConfig(fullEnv);
  const database = new ServerDatabase(() => tdb.open(), null);
  const mailer = new MemoryMailer();
  // With SMTP_URL in `env` (a test/helpers/smtp.ts server), the server mails over real SMTP, as `ctl serve` does.
  const smtp = config.smtpUrl ? createMailer(config) : null;
  const log: string[] = [];
  const server: TestServer = {
    app: undefined as unknown as FastifyInstance,
    config,
    database,
    mailer,
    log,
    clock: new Date(),
    async withDb(fn) {
      const db = await database.acquire();
      try {
        return await fn(db, { db, now: () => server.clock, actor: 'tester', reason: null });
      } finally {
        database.done();
      }
    },
    async ctl(args, opts = {}) {
      await database.release();
      return runCtlInProcess(tdb, args, { ...opts, env: { ...env, ...(opts.env ?? {}) } });
    },
    settled: () => server.app.afterAnswer.idle(),
    async close() {
      await server.app.close();
      smtp?.close();
      await database.close();
    },
  };
  (server as { app: FastifyInstance }).app = buildServer({ database, config, mailer: smtp ?? mailer, now: () => server.clock, log: (line) => log.push(line) });
  await server.app.ready();
  return server;
}

/** When a server test file gets a fresh server: see `useTestServer`. */
export type ServerStart = 'once' | 'each' | 'manual';

export interface ServerControl {
  /** Stops the running server and starts one with these settings on an emptied database. */
  restart(env?: Record<string, string>): Promise<void>;
  /** Stops the running server and starts one with these settings, keeping the data (settings that change under existing rows). */
  reopen(env?: Record<string, string>): Promise<void>;
}

/**
 * A server test file's database and server. The database is created before the file's tests and
 * dropped after them, together with whichever server runs then; `use` receives every server
 * started, so the file's `server` variable always names the live one.
 * - `once`: one server for the whole file, the database emptied before each test;
 * - `each`: a new server on an emptied database before each test;
 * - `manual`: a server only when the file calls `restart` (each describe with its own settings).
 */
export function useTestServer(use: (server: TestServer) => void, start: ServerStart = 'manual'): ServerControl {
  let opened: OpenTestDatabase | undefined;
  let tdb: TestDatabase | undefined;
  let server: TestServer | undefined;
  const reopen = async (env: Record<string, string> = {}) => {
    await server?.close();
    server = await startServer(tdb!, env);
    use(server);
  };
  // Emptied through the server's own handle: on PGlite a second handle would wait for its lock.
  const empty = () => server!.withDb((db) => truncateAll({ db } as never));
  const restart = async (env: Record<string, string> = {}) => {
    await reopen(env);
    await empty();
  };
  beforeAll(async () => {
    opened = await createOpenTestDatabase();
    tdb = holdTestDatabase(opened.tdb, opened.handle);
    if (start === 'once') await reopen();
  });
  afterAll(async () => {
    await server?.close();
    await opened?.handle.close();
    await opened?.tdb.destroy();
  });
  if (start === 'once') beforeEach(empty);
  if (start === 'each') beforeEach(() => restart());
  return { restart, reopen };
}

/** Creates a user through the same lib function as `ctl user new`. */
export async function addUser(
  server: TestServer,
  input: Partial<NewUserInput> & { nickname: string },
  password: string | null = 'correct-horse',
): Promise<number> {
  return server.withDb(async (_db, ctx) => {
    const created = await createUser(ctx, planNewUser({ email: `${input.nickname}@example.com`, ...input, password }), {
      appUrl: server.config.appUrl,
      bcryptCost: 4,
      passwordResetTtlMs: 3600e3,
      confirmationTtlMs: 3600e3,
    });
    return created.user.id;
  });
}

export async function loginAs(server: TestServer, login: string, password = 'correct-horse', extra: Record<string, unknown> = {}): Promise<string> {
  const res = await server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { login, password, ...extra } });
  if (res.statusCode !== 200) throw new Error(`login as ${login} failed: ${res.statusCode} ${res.body}`);
  return res.json().token;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
