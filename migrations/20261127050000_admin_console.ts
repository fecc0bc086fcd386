import { sql, type Kysely } from 'kysely';

/**
 * The admin console's sessions (issue 15). A console session is a login's 'access' token (so
 * `sign_out`, `deactivate`, `rm` and a password reset end it, as they end every session) plus this
 * row: the CSRF token its forms carry, and when it was last used (the console's idle timeout). An
 * API bearer token has no such row, so it never opens the console.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE console_sessions (
      token_id bigint PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
      csrf_token text NOT NULL,
      last_seen_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS console_sessions`.execute(db);
}
