// PGlite's own floor, for the embedded cases of `npm run bench`: load PGlite, open the data
// directory given (an existing one, or a new one: then this is PGlite's initdb), run one query,
// close. `ctl` on the embedded database is measured against this, in the same run.
import { PGlite } from '@electric-sql/pglite';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: pglite-floor <data directory>');
  const db = await PGlite.create(dir);
  await db.query('SELECT 1');
  await db.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
