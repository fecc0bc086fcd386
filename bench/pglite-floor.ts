// PGlite's own floor, for the embedded cases of `npm run bench`: load PGlite, open the data
// directory given (an existing one, or a new one: then this is PGlite's initdb), run one query,
// close. `ctl` on the embedded database is measured against this, in the same run.
//
// By default PGlite starts as ctl starts it (lib/db/pglite-options.ts: the schema's extension,
// pg_trgm, ctl's settings and V8's baseline compiler), so the ratio is what ctl adds to PGlite.
// `--stock` starts PGlite as it comes (no options), the floor issue 17 was measured against.
// The query is the bench's hand-written equivalent of the verb (default SELECT 1: a new directory
// has no schema yet).
import { PGlite } from '@electric-sql/pglite';
import { pgliteOptions, preferQuickWasmStart } from '../lib/db/pglite-options';

async function main(): Promise<void> {
  const stock = process.argv.includes('--stock');
  const [dir, query = 'SELECT 1'] = process.argv.slice(2).filter((a) => a !== '--stock');
  if (!dir) throw new Error('usage: pglite-floor [--stock] <data directory> [query]');
  if (!stock) preferQuickWasmStart();
  const db = await PGlite.create(dir, stock ? {} : pgliteOptions());
  const { rows } = await db.query(query);
  if (rows.length !== 1) throw new Error(`the floor's query returned ${rows.length} rows, expected 1`);
  await db.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
