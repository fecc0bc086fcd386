import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { sql } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import { kyselyOnPglite, openDatabase, pgliteExtensions, type Backend, type DbHandle } from '../../lib/db/db';
import type { LibContext } from '../../lib/lib-context';
import * as paths from '../setup/paths';

export const BACKEND: Backend = process.env.CTL_TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite';

let counter = 0;

/**
 * A clean, migrated database of its own for one test file, copied from the run's template.
 * `env` is what a spawned `bin/ctl` needs to reach it.
 */
export interface TestDatabase {
  readonly backend: Backend;
  readonly env: Readonly<Record<string, string>>;
  /** PostgreSQL URL, or null on PGlite. */
  readonly url: string | null;
  /** PGlite data directory (the CLI's CTL_DATA_DIR), or null on PostgreSQL. */
  readonly dataDir: string | null;
  open(): Promise<DbHandle>;
  /** Opens, runs, closes: on PGlite the data directory is locked while open, so a CLI must not run meanwhile. */
  withDb<T>(fn: (handle: DbHandle) => Promise<T>): Promise<T>;
  /** Empties every table (ids restart). */
  reset(): Promise<void>;
  destroy(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const n = `${process.env.JEST_WORKER_ID ?? '0'}_${process.pid}_${counter++}`;
  let url: string | null = null;
  let dataDir: string | null = null;
  if (BACKEND === 'postgres') {
    const name = `${paths.PG_PREFIX}_${n}`;
    const admin = new Client({ connectionString: paths.PG_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${paths.PG_TEMPLATE_DB}"`);
    } finally {
      await admin.end();
    }
    url = paths.pgUrl(name);
  } else {
    dataDir = path.join(paths.SCRATCH, `db_${n}`);
    fs.cpSync(paths.PGLITE_TEMPLATE, dataDir, { recursive: true });
    fs.rmSync(path.join(dataDir, 'ctl.lock'), { force: true });
  }
  const open = () => openDatabase({ databaseUrl: url, dataDir: dataDir ?? '', lockWaitMs: 10000, schema: 'auto' });
  const withDb = async <T>(fn: (handle: DbHandle) => Promise<T>): Promise<T> => {
    const handle = await open();
    try {
      return await fn(handle);
    } finally {
      await handle.close();
    }
  };
  return {
    backend: BACKEND,
    env: url ? { DATABASE_URL: url } : { CTL_DATA_DIR: dataDir! },
    url,
    dataDir,
    open,
    withDb,
    reset: () => withDb((h) => truncateAll(h)),
    async destroy() {
      if (url) {
        const admin = new Client({ connectionString: paths.PG_ADMIN_URL });
        await admin.connect();
        try {
          await admin.query(`DROP DATABASE IF EXISTS "${paths.PG_PREFIX}_${n}" WITH (FORCE)`);
        } finally {
          await admin.end();
        }
      } else if (dataDir) {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

export async function truncateAll(handle: DbHandle): Promise<void> {
  await sql`TRUNCATE users, invites, tokens, activities, follows, audit_log, login_limits, saml_assertions RESTART IDENTITY CASCADE`.execute(handle.db);
}

/** A LibContext for direct lib/ calls, with a clock the test can move. */
export function libContext(handle: DbHandle, overrides: Partial<LibContext> = {}): LibContext {
  return { db: handle.db, now: () => new Date(), actor: 'tester', reason: null, ...overrides };
}

/** Settings the lib functions take, fast bcrypt for tests. */
export const TEST_SETTINGS = {
  appUrl: 'http://ctl.test',
  bcryptCost: 4,
  passwordResetTtlMs: 24 * 3600e3,
  confirmationTtlMs: 7 * 24 * 3600e3,
  retentionDays: 90,
  batchSize: 1000,
} as const;

/**
 * A library test file's database: created before the file's tests, open throughout, emptied
 * before each test, closed and dropped after. `use` receives the database and its open handle.
 */
export function useOpenTestDatabase(use: (tdb: TestDatabase, handle: DbHandle) => void): void {
  let opened: OpenTestDatabase | undefined;
  beforeAll(async () => {
    opened = await createOpenTestDatabase();
    use(opened.tdb, opened.handle);
  });
  afterAll(async () => {
    await opened?.handle.close();
    await opened?.tdb.destroy();
  });
  beforeEach(() => truncateAll(opened!.handle));
}

export interface OpenTestDatabase {
  readonly tdb: TestDatabase;
  /** Open for the whole file; its `close` ends the database (on PGlite it lives in memory only). */
  readonly handle: DbHandle;
}

/**
 * A clean, migrated database held open by one test file. On PostgreSQL a copy of the template
 * database; on PGlite the template's dump loaded into memory (no directory to copy, lock or
 * delete): the file's one connection is all there is, so `open()` hands out that same handle.
 * A spawned bin/ctl cannot reach an in-memory database; tests that spawn use createTestDatabase.
 */
export async function createOpenTestDatabase(): Promise<OpenTestDatabase> {
  if (BACKEND === 'postgres') {
    const tdb = await createTestDatabase();
    return { tdb, handle: await tdb.open() };
  }
  const pglite = await PGlite.create({ loadDataDir: new Blob([fs.readFileSync(paths.PGLITE_TEMPLATE_DUMP)]), extensions: pgliteExtensions() });
  const db = kyselyOnPglite(pglite);
  const dataDir = path.join(paths.SCRATCH, `memory_${process.env.JEST_WORKER_ID ?? '0'}_${process.pid}_${counter++}`);
  const handle: DbHandle = {
    db,
    backend: 'pglite',
    where: dataDir,
    close: async () => {
      await db.destroy();
      await pglite.close();
    },
  };
  const lent: DbHandle = { ...handle, close: async () => undefined };
  const tdb: TestDatabase = {
    backend: 'pglite',
    env: { CTL_DATA_DIR: dataDir },
    url: null,
    dataDir,
    open: async () => lent,
    withDb: (fn) => fn(lent),
    reset: () => truncateAll(handle),
    destroy: async () => undefined,
  };
  return { tdb, handle };
}

/**
 * An end-to-end test file's database: created before the file's tests, emptied before each test
 * (and not held open, so the spawned bin/ctl can take the PGlite lock), dropped after.
 */
export function useCliTestDatabase(use: (tdb: TestDatabase) => void): void {
  let tdb: TestDatabase | undefined;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    use(tdb);
  });
  afterAll(() => tdb?.destroy());
  beforeEach(() => tdb!.reset());
}

/**
 * A PostgreSQL superuser connection for the test file (to read pg_stat_activity and the like
 * beside the database under test), opened before its tests and closed after.
 */
export function useAdminClient(use: (admin: Client) => void): void {
  let admin: Client | undefined;
  beforeAll(async () => {
    admin = new Client({ connectionString: paths.PG_ADMIN_URL });
    await admin.connect();
    use(admin);
  });
  afterAll(() => admin?.end());
}
