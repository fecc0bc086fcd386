import * as fs from 'node:fs';
import { Client } from 'pg';
import * as paths from './paths';

/** Drops every database this run created and removes its scratch folder. */
export async function globalTeardown(name: 'pglite' | 'postgres'): Promise<void> {
  if (name === 'postgres') {
    const admin = new Client({ connectionString: paths.PG_ADMIN_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${paths.PG_PREFIX}%`]);
      for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  } else {
    fs.rmSync(paths.SCRATCH, { recursive: true, force: true });
  }
}
