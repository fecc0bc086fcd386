import { inspect } from 'node:util';
import { Migrator, sql, type Kysely, type MigrationResultSet } from 'kysely';
import { MIGRATIONS } from '../../migrations/index';
import type { Database } from './schema';
import { CtlError, UnavailableError } from '../errors';
import { isUndefinedTable } from './pg-errors';

function migratorFor(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
}

export interface MigrationStatus {
  readonly name: string;
  readonly executedAt: Date | null;
}

/** A migration may throw anything: an Error says its message, a string itself, anything else its inspected value (not "[object Object]"). */
function failureReason(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : inspect(error);
}

function unwrap(result: MigrationResultSet): MigrationResultSet {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const why = failureReason(result.error);
    const message = `migration ${failed?.migrationName ?? ''} failed: ${why}`.replace('  ', ' ');
    // A migration that refuses on purpose (existing rows it cannot change) says which exit code.
    if (result.error instanceof CtlError) throw new (result.error.constructor as new (message: string) => CtlError)(message);
    throw new UnavailableError(message);
  }
  return result;
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const result = unwrap(await migratorFor(db).migrateToLatest());
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * True when exactly the migrations this version knows have run: one query. Kysely's Migrator finds
 * the same in about nine round trips, two of them catalogue introspection, which on the embedded
 * database cost more than the verb itself (`ctl user show`: ~0.1 s of ~0.7 s). Any doubt (no
 * bookkeeping table yet, a migration missing or unknown) answers false and leaves it to the Migrator.
 */
export async function isUpToDate(db: Kysely<Database>): Promise<boolean> {
  try {
    const applied = await appliedMigrations(db);
    return applied.size === Object.keys(MIGRATIONS).length && [...applied.keys()].every((name) => Object.hasOwn(MIGRATIONS, name));
  } catch {
    return false;
  }
}

/** Applies every pending migration unless none is (see isUpToDate); returns the names applied. */
export async function migrateIfBehind(db: Kysely<Database>): Promise<string[]> {
  return (await isUpToDate(db)) ? [] : migrateToLatest(db);
}

/** Undoes the newest migration; returns its name, or null when none was applied. */
export async function migrateDown(db: Kysely<Database>): Promise<string | null> {
  const result = unwrap(await migratorFor(db).migrateDown());
  return (result.results ?? []).find((r) => r.status === 'Success')?.migrationName ?? null;
}

/** The migrations that ran here and when, in one query: none when Kysely's bookkeeping table is missing. */
async function appliedMigrations(db: Kysely<Database>): Promise<Map<string, Date>> {
  const applied = new Map<string, Date>();
  try {
    const done = await sql<{ name: string; timestamp: string }>`SELECT name, timestamp FROM kysely_migration`.execute(db);
    for (const row of done.rows) applied.set(row.name, new Date(row.timestamp));
  } catch (error) {
    if (!isUndefinedTable(error)) throw error;
  }
  return applied;
}

/**
 * Which migrations exist and when each ran, read without creating Kysely's bookkeeping tables: one
 * round trip on every verb that opens a server.
 */
export async function migrationStatus(db: Kysely<Database>): Promise<MigrationStatus[]> {
  const applied = await appliedMigrations(db);
  return Object.keys(MIGRATIONS)
    .sort()
    .map((name) => ({ name, executedAt: applied.get(name) ?? null }));
}

/**
 * Exit 6, naming the fix, when the server's schema lags behind this version of ctl. `command`: how
 * to migrate this same database (with `--database-url` when that is how it was named).
 */
export async function assertMigrated(db: Kysely<Database>, command = './bin/ctl migrate'): Promise<void> {
  const pending = (await migrationStatus(db)).filter((m) => m.executedAt === null);
  if (pending.length > 0) {
    throw new UnavailableError(`the database schema is not migrated (${pending.length} pending: ${pending.map((m) => m.name).join(', ')}); run ${command}`);
  }
}
