import { sql, type Kysely } from 'kysely';

/**
 * What the app side (`ctl serve`, the Users API) keeps per user: accepted terms, settings,
 * plugins, balance, avatar, and the last TOTP step used (so a code cannot be replayed). Avatars
 * live in the database, not on a disk one app server alone would see.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE users
      ADD COLUMN terms_version text,
      ADD COLUMN terms_accepted_at timestamptz,
      ADD COLUMN settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
      ADD COLUMN plugins text[] NOT NULL DEFAULT '{}',
      ADD COLUMN balance numeric(14, 2) NOT NULL DEFAULT 0,
      ADD COLUMN token_balance bigint NOT NULL DEFAULT 0,
      ADD COLUMN avatar text,
      ADD COLUMN mfa_last_step bigint`.execute(db);
  await sql`
    CREATE TABLE avatars (
      user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      content_type text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
      data bytea NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS avatars`.execute(db);
  await sql`
    ALTER TABLE users
      DROP COLUMN IF EXISTS terms_version,
      DROP COLUMN IF EXISTS terms_accepted_at,
      DROP COLUMN IF EXISTS settings,
      DROP COLUMN IF EXISTS plugins,
      DROP COLUMN IF EXISTS balance,
      DROP COLUMN IF EXISTS token_balance,
      DROP COLUMN IF EXISTS avatar,
      DROP COLUMN IF EXISTS mfa_last_step`.execute(db);
}
