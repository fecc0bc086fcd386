import { sql, type Kysely } from 'kysely';

/**
 * The login and mail limits of `ctl serve` (lib/auth/limits.ts), shared by every instance on the
 * database: one row per counted attempt, so giving one attempt back or forgiving the failures
 * before a success is a delete by id. `key` is a rule name and a hash of what is counted: no
 * address or typed login is stored. Rows past `expires_at` are pruned.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE login_limits (
      id bigserial PRIMARY KEY,
      key text NOT NULL,
      at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX login_limits_key_at ON login_limits (key, at)`.execute(db);
  await sql`CREATE INDEX login_limits_expires_at ON login_limits (expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS login_limits`.execute(db);
}
