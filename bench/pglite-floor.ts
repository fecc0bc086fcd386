// PGlite's own floor, for the embedded cases of `npm run bench`: load PGlite, open the data
// directory given (an existing one, or a new one: then this is PGlite's initdb), run one query,
// close. `ctl` on the embedded database is measured against this, in the same run.
//
// PGlite is created as ctl creates it (lib/db's pgliteOptions: the schema's extension, pg_trgm,
// and the settings ctl gives it), so the ratio is what ctl adds to PGlite, not a difference in how
// PGlite is configured. The query is the bench's hand-written equivalent of the verb (default
// SELECT 1, for a new directory that has no schema yet).
import { PGlite } from '@electric-sql/pglite';
import { pgliteOptions } from '../lib/db/pglite-options';

async function main(): Promise<void> {
  const [dir, query = 'SELECT 1'] = process.argv.slice(2);
  if (!dir) throw new Error('usage: pglite-floor <data directory> [query]');
  const db = await PGlite.create(dir, pgliteOptions());
  const { rows } = await db.query(query);
  if (rows.length !== 1) throw new Error(`the floor's query returned ${rows.length} rows, expected 1`);
  await db.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
