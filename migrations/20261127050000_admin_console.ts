import { sql, type Kysely } from 'kysely';

/**
 * The admin console (issue 15): trigram indexes so that its search (and `ctl user list --search`),
 * a case-insensitive substring of nickname, email or name, stays an index probe at a million
 * users, and the console's sessions.
 *
 * pg_trgm is a trusted extension (PostgreSQL 13+): a role with CREATE on the database may add it;
 * the embedded database loads PGlite's build of it (lib/db/db.ts).
 *
 * The console's sessions: A console session is a login's 'access' token (so
 * `sign_out`, `deactivate`, `rm` and a password reset end it, as they end every session) plus this
 * row: the CSRF token its forms carry, and when it was last used (the console's idle timeout). An
 * API bearer token has no such row, so it never opens the console.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
  // One per column: the search is an OR of three ILIKEs, which the planner serves with a BitmapOr.
  for (const column of ['nickname', 'email', 'name']) {
    await sql`CREATE INDEX ${sql.raw(`users_${column}_trgm_idx`)} ON users USING gin (${sql.ref(column)} gin_trgm_ops)`.execute(db);
  }
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
  // The extension stays: something else may use it, and up adds it only if missing.
  for (const column of ['nickname', 'email', 'name']) await sql`DROP INDEX IF EXISTS ${sql.raw(`users_${column}_trgm_idx`)}`.execute(db);
}
