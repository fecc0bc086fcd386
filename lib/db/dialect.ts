import { PostgresAdapter, PostgresDialect, sql, type DialectAdapter, type Kysely } from 'kysely';

/** Kysely's own migration lock id, so a ctl of an older version and this one still exclude each other. */
const MIGRATION_LOCK_ID = '3853314791062309107';
/** How long a `ctl migrate` waits for another one to finish (Kysely's own bound). */
const MIGRATION_LOCK_TIMEOUT = '1h';

/**
 * Kysely's PostgreSQL adapter with a migration lock that holds behind a transaction-pooling
 * PgBouncer. Kysely takes a session-level advisory lock, runs the migrations in a transaction on
 * the same connection, and unlocks: through PgBouncer those three can land on three server
 * connections, so the lock is left on one (and held "again" by whichever client lands there next:
 * two migrations at once), and the unlock frees nothing.
 *
 * Here the lock is transaction-level, taken in a transaction opened right before Kysely opens the
 * migrations' own on the same connection: PostgreSQL answers that second BEGIN with a warning and
 * carries on in the one transaction, so Kysely's COMMIT (or ROLLBACK, when a migration fails) ends
 * it, lock included, and everything in between runs on one server connection. The ROLLBACK on
 * release only matters when taking the lock failed (else it meets no transaction: a warning).
 */
class TransactionLockAdapter extends PostgresAdapter {
  override async acquireMigrationLock(db: Kysely<unknown>): Promise<void> {
    await sql`BEGIN`.execute(db);
    await sql`SELECT set_config('lock_timeout', ${MIGRATION_LOCK_TIMEOUT}, true), pg_advisory_xact_lock(${MIGRATION_LOCK_ID}::bigint)`.execute(db);
  }

  override async releaseMigrationLock(db: Kysely<unknown>): Promise<void> {
    await sql`ROLLBACK`.execute(db);
  }
}

/** Kysely's PostgresDialect for a server, with the migration lock above. */
export class ServerDialect extends PostgresDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionLockAdapter();
  }
}
