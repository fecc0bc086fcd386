// lib/db owns the database: opening PostgreSQL or the embedded PGlite (this file, the only one
// that tells them apart), the schema's types (schema.ts: the one Database interface migrations and
// queries share), migrations (migrate.ts), the server's dialect (dialect.ts: a migration lock that
// holds behind PgBouncer), the data directory's lock (lock-file.ts) and driver errors (pg-errors.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kysely, OperationNodeTransformer, PostgresDialect, type KyselyPlugin, type PrimitiveValueListNode, type ValueNode } from 'kysely';
import { Pool, types, type PoolClient } from 'pg';
import type { PGlite, PGliteInterface } from '@electric-sql/pglite';
import type { Database } from './schema';
import { UnavailableError } from '../errors';
import { acquireFileLock, type FileLock } from './lock-file';
import { keepPrivate } from './private-files';
import { assertMigrated, migrateIfBehind } from './migrate';
import { redactUrl } from '../config';
import { registerPgliteCopy, registerServerCopy } from './copy-out';
import { ServerDialect } from './dialect';
import { pgliteOptions, preferQuickWasmStart } from './pglite-options';

export { pgliteExtensions, pgliteOptions } from './pglite-options';

export type Backend = 'postgres' | 'pglite';

export interface DbHandle {
  readonly db: Kysely<Database>;
  readonly backend: Backend;
  /** Where the data lives, for messages: the redacted server URL or the data directory. */
  readonly where: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly lockWaitMs: number;
  /** 'auto' migrates the embedded database and checks the server; 'none' skips both (ctl migrate). */
  readonly schema: 'auto' | 'none';
  /** How the not-migrated refusal tells the operator to migrate this database (default `./bin/ctl migrate`). */
  readonly migrateCommand?: string;
  /** Connections to a server at most (default 4: one verb at a time); `ctl serve` asks for more. */
  readonly poolSize?: number;
  /**
   * Server connections to open at once (default 1), left idle in the pool. A bulk job uses two
   * (its lock's and its batches'): opened beside the first, the second's backend start (several
   * ms, tens on a busy host) is off the job's path instead of between its lock and first batch.
   */
  readonly connections?: number;
  /**
   * The process exits as soon as the handle is closed (bin/ctl running one verb): close() then
   * sends each server connection its Terminate and lets go of the socket, and the operating system
   * closes it when the process exits, instead of waiting for the server to close it (~10 ms of
   * every run, issue 17). Otherwise a closed handle holds nothing open.
   */
  readonly exitsAfterClose?: boolean;
  /**
   * A process that keeps the embedded database for long (`ctl serve`): PGlite's code is then
   * optimised by V8 as usual; a command that ends at once skips that (see preferQuickWasmStart).
   */
  readonly longLived?: boolean;
}

let typesSet = false;
/** bigint ids and counts fit in a JS number here; a DATE stays the 'YYYY-MM-DD' it means. */
function setTypeParsers(): void {
  if (typesSet) return;
  typesSet = true;
  types.setTypeParser(20, (v: string) => Number(v));
  types.setTypeParser(1700, (v: string) => Number(v));
  types.setTypeParser(1082, (v: string) => v);
}

/** Turns a driver error met while connecting into exit 6 with a one-line reason. */
export function connectionError(error: unknown, where: string): UnavailableError {
  const e = error as { code?: string; message?: string };
  const reason = e.message?.split('\n')[0] || e.code || 'unknown error';
  return new UnavailableError(`cannot reach the database at ${where}: ${reason}`);
}

/**
 * The URL as pg 8 should read it. pg 8 treats `sslmode=prefer`, `require` and `verify-ca` as
 * `verify-full` (the server's certificate and name are checked), and says so in a 9-line warning on
 * stderr at every run, which cron would mail each time. Naming that mode does what pg does
 * anyway, without the warning. `uselibpqcompat=true` (libpq's meanings: `require` encrypts
 * without checking) is left as the operator wrote it.
 */
export function pgConnectionString(url: string): string {
  // Only that parameter is rewritten: the rest of the URL reaches pg byte for byte.
  if (/[?&]uselibpqcompat=true(&|#|$)/.test(url)) return url;
  return url.replace(/([?&])sslmode=(prefer|require|verify-ca)(?=&|#|$)/g, '$1sslmode=verify-full');
}

async function openPostgres(opts: OpenOptions): Promise<DbHandle> {
  const where = redactUrl(opts.databaseUrl!);
  const pool = new Pool({ connectionString: pgConnectionString(opts.databaseUrl!), max: opts.poolSize ?? 4, connectionTimeoutMillis: 5000 });
  // A client whose backend is killed (pg_terminate_backend, a restart) emits 'error'; without a
  // listener node crashes with a stack trace. The pool listens on idle clients only, so every client
  // gets its own: a checked-out one (a bulk verb holds its lock's connection between batches) then
  // fails its next query instead, which the runner reports as a lost connection (exit 6).
  pool.on('error', () => undefined);
  const clients = new Set<PoolClient>();
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    clients.add(client);
  });
  pool.on('remove', (client) => clients.delete(client));
  try {
    // No more than the pool holds: one more would wait for connectionTimeoutMillis, then fail.
    const wanted = Math.min(Math.max(1, opts.connections ?? 1), opts.poolSize ?? 4);
    const opened = await Promise.allSettled(Array.from({ length: wanted }, () => pool.connect()));
    for (const o of opened) if (o.status === 'fulfilled') o.value.release();
    const failed = opened.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw connectionError(error, where);
  }
  // No session state anywhere (no SET on connect, no session locks, no named statements): each
  // transaction may run on another server connection behind a transaction-pooling PgBouncer.
  const db = new Kysely<Database>({ dialect: new ServerDialect({ pool }) });
  registerServerCopy(db, pool);
  // Kysely ends the pool only if it ran a query: a run that stops before its first one (a refused
  // `migrate down`) left the probe's idle client open, keeping the process alive for pg's 10 s
  // idle timeout. The pool is ours, so we end it.
  // pool.end() resolves before the sockets are closed: wait for every client's 'remove' too, so a
  // closed handle holds nothing open.
  const close = async () => {
    // Only with every connection idle: pool.end() waits for a checked-out one's close from the
    // server, and with its socket unreferenced the process could end before main() settled.
    if (opts.exitsAfterClose && pool.idleCount === pool.totalCount) {
      // pool.end() still writes each connection's Terminate (the server ends the session as a
      // normal disconnect, not a lost client); unreferenced, its socket no longer keeps the
      // process waiting for the server to close it.
      // Client#unref is pg's (lib/client.js), missing from @types/pg.
      for (const client of clients) (client as PoolClient & { unref(): void }).unref();
      await db.destroy();
      if (!pool.ending) await pool.end();
      return;
    }
    let open = pool.totalCount;
    const removed = new Promise<void>((resolve) => {
      if (open === 0) return resolve();
      pool.on('remove', () => {
        if (--open <= 0) resolve();
      });
    });
    await db.destroy();
    if (!pool.ending) await pool.end();
    await removed;
  };
  return { db, backend: 'postgres', where, close };
}

const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const wellFormed = (v: unknown): unknown => (typeof v === 'string' ? v.replace(LONE_SURROGATES, '\ufffd') : Array.isArray(v) ? v.map(wellFormed) : v);

/**
 * PGlite's wire encoder counts a lone UTF-16 surrogate as half of a 4-byte pair, so a parameter
 * holding one desynchronises the message and the statement fails ("invalid byte sequence for
 * encoding UTF8"). A server stores U+FFFD for it (pg encodes it so); PGlite gets the same.
 */
class WellFormedParameters extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    return { ...node, value: wellFormed(node.value) };
  }

  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    return { ...node, values: node.values.map(wellFormed) };
  }
}

const wellFormedParameters: KyselyPlugin = {
  transformQuery: (args) => new WellFormedParameters().transformNode(args.node),
  transformResult: async (args) => args.result,
};

/**
 * Marks a Kysely over PGlite. It changes no query; it travels with the instance into its
 * transactions, connections and `withPlugin` copies, so code handed any of them can ask.
 */
const embeddedMarker: KyselyPlugin = {
  transformQuery: (args) => args.node,
  transformResult: async (args) => args.result,
};

/**
 * True for the embedded database: one session, which a second connection would only wait for
 * (the bulk verbs' lock needs a connection of its own on a server, and none on PGlite).
 */
export function isEmbedded(db: Kysely<Database>): boolean {
  return db.getExecutor().plugins.includes(embeddedMarker);
}

/**
 * Kysely over a PGlite instance through PGlite's node-postgres adapter (one connection), with the
 * same type parsers and parameter clean-up as a server gets. Tests use it for an in-memory copy.
 */
export function kyselyOnPglite(pglite: PGliteInterface): Kysely<Database> {
  setTypeParsers();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- PGlite's modules load for the embedded database only (~65 ms a server never pays)
  const { createPgConfig } = require('@electric-sql/pglite/node-postgres') as typeof import('@electric-sql/pglite/node-postgres');
  const pool = new Pool(createPgConfig(pglite as PGlite));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [embeddedMarker, wellFormedParameters] });
  registerPgliteCopy(db, pglite);
  return db;
}

async function openPglite(opts: OpenOptions): Promise<DbHandle> {
  const pgdata = path.join(opts.dataDir, 'pgdata');
  try {
    fs.mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    fs.chmodSync(opts.dataDir, 0o700);
    fs.chmodSync(pgdata, 0o700);
  } catch (error) {
    throw new UnavailableError(`cannot create the data directory ${opts.dataDir}: ${(error as Error).message}`);
  }
  const lock: FileLock = await acquireFileLock(path.join(opts.dataDir, 'ctl.lock'), opts.lockWaitMs, `the embedded database in ${opts.dataDir}`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- PGlite loads for the embedded database only (~65 ms a server never pays)
    const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
    // The node-postgres adapter (kyselyOnPglite's) is a 0.5 MB bundle with its own copy of PGlite's
    // JavaScript. Compiled before PGlite.create it costs ~15 ms; after, in a heap that holds the
    // started database, ~50–100 ms of CPU (mostly garbage collection), measured on `ctl user show`.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
    require('@electric-sql/pglite/node-postgres');
    if (!opts.longLived) preferQuickWasmStart();
    const pglite = await PGlite.create(pgdata, pgliteOptions());
    const db = kyselyOnPglite(pglite);
    let closed = false;
    return {
      db,
      backend: 'pglite',
      where: opts.dataDir,
      close: async () => {
        if (closed) return;
        closed = true;
        try {
          await db.destroy();
          await pglite.close();
          keepPrivate(pgdata, path.join(opts.dataDir, 'modes-checked'));
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    if (error instanceof UnavailableError) throw error;
    throw new UnavailableError(`cannot open the embedded database in ${opts.dataDir}: ${(error as Error).message}`);
  }
}

/**
 * The one place that knows the two backends apart: `DATABASE_URL` gives a server, its absence
 * the embedded PGlite database in the data directory. Everything above this gets a Kysely.
 */
export async function openDatabase(opts: OpenOptions): Promise<DbHandle> {
  setTypeParsers();
  const handle = opts.databaseUrl ? await openPostgres(opts) : await openPglite(opts);
  try {
    if (opts.schema === 'auto') {
      // A newcomer's embedded database migrates itself; a server's schema is the operator's call.
      if (handle.backend === 'pglite') await migrateIfBehind(handle.db);
      else await assertMigrated(handle.db, opts.migrateCommand);
    }
  } catch (error) {
    await handle.close().catch(() => undefined);
    if (error instanceof UnavailableError) throw error;
    throw connectionError(error, handle.where);
  }
  return handle;
}
