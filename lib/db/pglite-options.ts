// How ctl creates PGlite, in a module of its own (no kysely, no pg): `openDatabase` uses it, and
// so does the bench's PGlite floor, which must configure PGlite as ctl does and load nothing else.
import type { PGliteOptions } from '@electric-sql/pglite';

/**
 * The PostgreSQL extensions the schema uses, as PGlite bundles them: pg_trgm (the trigram indexes
 * of the user search). Every PGlite instance that opens this schema must be created with them:
 * any write to `users` updates those indexes, so loading it only for the console's search would
 * fail elsewhere. It costs nothing measurable (a small library, compiled in the background).
 */
export function pgliteExtensions(): { readonly pg_trgm: typeof import('@electric-sql/pglite/contrib/pg_trgm').pg_trgm } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- PGlite's modules load for the embedded database only
  const { pg_trgm } = require('@electric-sql/pglite/contrib/pg_trgm') as typeof import('@electric-sql/pglite/contrib/pg_trgm');
  return { pg_trgm };
}

/**
 * PostgreSQL settings ctl gives PGlite on top of PGlite's own start parameters. PGlite's
 * postgresql.conf asks for 128 MB of shared buffers, and PGlite touches all of them when it
 * starts: ~120 MB of the ~350 MB peak RSS of every `ctl` run on the embedded database. With 32 MB
 * a 30,000-user import and a `list` of them were no slower (measured; the pages beyond the buffers
 * come from the operating system's cache). Buffers are memory: what is on disk when ctl exits is
 * the same at any size, since closing PGlite writes every dirty buffer (its shutdown checkpoint).
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = { shared_buffers: '32MB' };

/** The options every PGlite on this schema is created with: the extensions and settings above. */
export function pgliteOptions(): Pick<PGliteOptions, 'extensions' | 'startParams'> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- PGlite's modules load for the embedded database only
  const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
  const settings = Object.entries(PGLITE_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  return { extensions: pgliteExtensions(), startParams: [...PGlite.defaultStartParams, ...settings] };
}
