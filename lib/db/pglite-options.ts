// How ctl creates PGlite, in a module of its own (no kysely, no pg): `openDatabase` uses it, and
// so does the bench's PGlite floor, which must configure PGlite as ctl does and load nothing else.
import { setFlagsFromString } from 'node:v8';
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

/**
 * V8 compiles PGlite's 9 MB of WebAssembly twice: at once with its baseline compiler (Liftoff),
 * and again with its optimising one (TurboFan) on background threads, ~0.6 s of CPU that Node
 * waits for before the process may exit, however short the run. No ctl command lives long enough
 * to earn it back. Measured on this machine (CPU user+sys, loaded): `show` 1.34 -> 0.59 s (peak RSS
 * 254 -> 168 MB), the first command on a new directory 5.2 -> 3.4 s, a 30,000-user import
 * 5.9 -> 4.8 s, `list` of them 2.0 -> 1.0 s. Liftoff is a complete compiler (every WebAssembly
 * program runs on it first in Chrome and Node): what PGlite computes is the same, only how fast.
 * A V8 flag, so it holds for the whole process and for modules compiled after it is set: ctl sets
 * it right before PGlite starts; `ctl serve`, which keeps PGlite for hours, does not.
 */
export function preferQuickWasmStart(): void {
  setFlagsFromString('--liftoff-only');
}
