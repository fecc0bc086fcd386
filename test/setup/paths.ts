import * as os from 'node:os';
import * as path from 'node:path';

/** The run's scratch folder and names: one per `jest` run, so parallel runs never meet. */
// Set in the parent jest process by the first import; the workers it forks inherit it.
process.env.CTL_TEST_RUN_ID ??= `${process.pid}_${Date.now().toString(36)}`;
export const RUN_ID = process.env.CTL_TEST_RUN_ID;
export const SCRATCH = path.join(os.tmpdir(), `userctl-test-${RUN_ID}`);
export const PGLITE_TEMPLATE = path.join(SCRATCH, 'pglite-template');
/** The same template as one tar file, which a test file loads into an in-memory PGlite. */
export const PGLITE_TEMPLATE_DUMP = path.join(SCRATCH, 'pglite-template.tar');
export const PG_ADMIN_URL = process.env.CTL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const PG_PREFIX = `userctl_t_${RUN_ID}`.toLowerCase();
export const PG_TEMPLATE_DB = `${PG_PREFIX}_tpl`;

export function pgUrl(database: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}
