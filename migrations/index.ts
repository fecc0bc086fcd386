import type { Migration } from 'kysely';
import * as initial from './20261122000000_initial';
import * as app from './20261122010000_app';
import * as loginLimits from './20261127010000_login_limits';
import * as emailKey from './20261127020000_email_key';
import * as refreshTokens from './20261127040000_refresh_tokens';
import * as adminConsole from './20261127050000_admin_console';
import * as sso from './20261127060000_sso';
import * as secondFactorLimits from './20261127070000_second_factor_limits';

/**
 * Every migration, by its timestamped name. A static list rather than a folder scan, so the
 * compiled CLI needs no file-system lookups and a missing file is a compile error.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '20261122000000_initial': initial,
  '20261122010000_app': app,
  '20261127010000_login_limits': loginLimits,
  '20261127020000_email_key': emailKey,
  '20261127040000_refresh_tokens': refreshTokens,
  '20261127050000_admin_console': adminConsole,
  '20261127060000_sso': sso,
  '20261127070000_second_factor_limits': secondFactorLimits,
};
