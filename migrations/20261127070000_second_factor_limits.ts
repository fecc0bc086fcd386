import { sql, type Kysely } from 'kysely';

/**
 * Wrong second-factor codes are counted in login_limits (lib/auth/second-factor-limit.ts), beside
 * every other attempt the server limits, instead of a table of their own: one mechanism, pruned by
 * expiry like the rest. Failures counted at the moment of the upgrade are forgotten; each would
 * have left the count within CTL_LOGIN_WINDOW anyway.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS second_factor_failures`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE second_factor_failures (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX second_factor_failures_user_at_idx ON second_factor_failures (user_id, at)`.execute(db);
}
