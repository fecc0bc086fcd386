import type { Migration } from 'kysely';

/* eslint-disable @typescript-eslint/no-require-imports -- each migration loads when read (below) */
const LOADERS: Readonly<Record<string, () => Migration>> = {
  '20261122000000_initial': () => require('./20261122000000_initial') as typeof import('./20261122000000_initial'),
  '20261122010000_app': () => require('./20261122010000_app') as typeof import('./20261122010000_app'),
  '20261127010000_login_limits': () => require('./20261127010000_login_limits') as typeof import('./20261127010000_login_limits'),
  '20261127020000_email_key': () => require('./20261127020000_email_key') as typeof import('./20261127020000_email_key'),
  '20261127040000_refresh_tokens': () => require('./20261127040000_refresh_tokens') as typeof import('./20261127040000_refresh_tokens'),
  '20261127050000_admin_console': () => require('./20261127050000_admin_console') as typeof import('./20261127050000_admin_console'),
  '20261127060000_sso': () => require('./20261127060000_sso') as typeof import('./20261127060000_sso'),
  '20261127070000_second_factor_limits': () => require('./20261127070000_second_factor_limits') as typeof import('./20261127070000_second_factor_limits'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Every migration, by its timestamped name. A static list rather than a folder scan, so the
 * compiled CLI needs no file-system lookups and a missing file is a compile error. Each module
 * loads when its entry is first read: the schema check before every verb needs only the names,
 * and loading the eight modules cost `ctl user show` ~2 ms of its start (issue 17).
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.defineProperties(
  {},
  Object.fromEntries(Object.entries(LOADERS).map(([name, load]) => [name, { get: load, enumerable: true }])),
);
