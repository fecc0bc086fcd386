import { sql, type Kysely } from 'kysely';

/**
 * Refresh tokens that rotate (issue 14): each login starts a family, every refresh spends its
 * token and issues the next one in the same family, and the access tokens issued along the way
 * carry the family too, so presenting a spent refresh token (a stolen copy) revokes all of them
 * at once. Pending two-factor logins (the password proved, the code not yet) get their own table:
 * they are not sessions, and the tokens table's list of kinds stays as it is. A re-enrolment
 * while two-factor is on waits in mfa_reenrolments until confirmed: the old secret stays in force
 * until the new one is proved. Wrong second-factor codes are counted per account in
 * second_factor_failures, whichever route they came through, so holding a session or a
 * password does not give unlimited guesses.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE tokens ADD COLUMN family uuid`.execute(db);
  await sql`CREATE INDEX tokens_family_idx ON tokens (family) WHERE family IS NOT NULL`.execute(db);
  await sql`
    CREATE TABLE two_factor_challenges (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      token_hash text NOT NULL UNIQUE,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      password_fingerprint text NOT NULL,
      failures integer NOT NULL DEFAULT 0,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX two_factor_challenges_user_id_idx ON two_factor_challenges (user_id)`.execute(db);
  await sql`
    CREATE TABLE mfa_reenrolments (
      user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      totp_secret text NOT NULL,
      backup_codes text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE second_factor_failures (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX second_factor_failures_user_at_idx ON second_factor_failures (user_id, at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS second_factor_failures`.execute(db);
  await sql`DROP TABLE IF EXISTS mfa_reenrolments`.execute(db);
  await sql`DROP TABLE IF EXISTS two_factor_challenges`.execute(db);
  await sql`DROP INDEX IF EXISTS tokens_family_idx`.execute(db);
  await sql`ALTER TABLE tokens DROP COLUMN IF EXISTS family`.execute(db);
}
