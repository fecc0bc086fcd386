import * as fs from 'node:fs';
import * as path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import * as paths from './paths';
import { openDatabase, pgliteExtensions } from '../../lib/db/db';
import { migrateToLatest } from '../../lib/db/migrate';

/**
 * Runs once per project. Builds a migrated template — a PGlite data directory, or a PostgreSQL
 * database — that every test file copies, so each file starts from a clean, migrated database
 * without paying for initdb and migrations again.
 */
export async function globalSetup(name: 'pglite' | 'postgres'): Promise<void> {
  fs.mkdirSync(paths.SCRATCH, { recursive: true });
  if (name === 'pglite') {
    if (fs.existsSync(paths.PGLITE_TEMPLATE)) return;
    const handle = await openDatabase({ databaseUrl: null, dataDir: paths.PGLITE_TEMPLATE, lockWaitMs: 5000, schema: 'auto' });
    await handle.close();
    // Copying the directory and opening it costs a test file seconds; loading this dump into
    // memory a fraction of that, and there is nothing to delete afterwards.
    const pglite = await PGlite.create(path.join(paths.PGLITE_TEMPLATE, 'pgdata'), { extensions: pgliteExtensions() });
    try {
      const dump = await pglite.dumpDataDir('none');
      fs.writeFileSync(paths.PGLITE_TEMPLATE_DUMP, Buffer.from(await dump.arrayBuffer()));
    } finally {
      await pglite.close();
    }
    return;
  }
  const admin = new Client({ connectionString: paths.PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`the PostgreSQL suite needs a server at ${paths.PG_ADMIN_URL} (set CTL_TEST_PG_URL): ${(error as Error).message}`, { cause: error });
  }
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${paths.PG_TEMPLATE_DB}`);
    await admin.query(`CREATE DATABASE ${paths.PG_TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  const handle = await openDatabase({ databaseUrl: paths.pgUrl(paths.PG_TEMPLATE_DB), dataDir: '', lockWaitMs: 0, schema: 'none' });
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
}
