import { sql, type Kysely } from 'kysely';

/**
 * The whole schema the verbs need. Written as SQL because generated columns, expression indexes
 * and partial indexes read better that way than through the schema builder. Kept within
 * PostgreSQL 15 (the server here) although PGlite is 18.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE users (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      nickname text NOT NULL,
      email text,
      name text NOT NULL,
      bio text NOT NULL DEFAULT '',
      password_hash text,
      local boolean NOT NULL DEFAULT true,
      instance text GENERATED ALWAYS AS (nullif(lower(split_part(nickname, '@', 2)), '')) STORED,
      admin boolean NOT NULL DEFAULT false,
      moderator boolean NOT NULL DEFAULT false,
      locked boolean NOT NULL DEFAULT false,
      confirmed boolean NOT NULL DEFAULT false,
      active boolean NOT NULL DEFAULT true,
      tags text[] NOT NULL DEFAULT '{}',
      deleted_at timestamptz,
      mfa_enabled boolean NOT NULL DEFAULT false,
      mfa_totp_secret text,
      mfa_backup_codes text[] NOT NULL DEFAULT '{}',
      last_login_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX users_nickname_lower_key ON users (lower(nickname))`.execute(db);
  await sql`CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))`.execute(db);
  await sql`CREATE INDEX users_instance_idx ON users (instance, id) WHERE instance IS NOT NULL`.execute(db);
  await sql`CREATE INDEX users_tags_idx ON users USING gin (tags)`.execute(db);
  await sql`CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL`.execute(db);
  await sql`CREATE INDEX users_last_login_at_idx ON users (last_login_at)`.execute(db);
  // confirm_all / unconfirm_all walk exactly these rows by id, batch after batch.
  await sql`
    CREATE INDEX users_bulk_confirm_idx ON users (id)
    WHERE local AND active AND NOT admin AND NOT moderator AND deleted_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE invites (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      token_hash text NOT NULL UNIQUE,
      token_prefix text NOT NULL,
      invite_type text NOT NULL
        CHECK (invite_type IN ('one_time', 'date_limited', 'reusable', 'reusable_date_limited')),
      max_use integer CHECK (max_use IS NULL OR max_use > 0),
      uses integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
      used boolean NOT NULL DEFAULT false,
      expires_at date,
      email text,
      name text,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX invites_usable_idx ON invites (id) WHERE NOT used`.execute(db);

  await sql`
    CREATE TABLE tokens (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      kind text NOT NULL
        CHECK (kind IN ('access', 'refresh', 'authorization', 'password_reset', 'email_confirmation')),
      token_hash text NOT NULL UNIQUE,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      expires_at timestamptz,
      used_at timestamptz,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX tokens_user_kind_idx ON tokens (user_id, kind) WHERE revoked_at IS NULL AND used_at IS NULL`.execute(db);
  await sql`CREATE INDEX tokens_user_id_idx ON tokens (user_id)`.execute(db);

  await sql`
    CREATE TABLE activities (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      actor_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      type text NOT NULL,
      object text,
      data jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX activities_actor_id_idx ON activities (actor_id, id)`.execute(db);

  await sql`
    CREATE TABLE follows (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      follower_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      following_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      state text NOT NULL DEFAULT 'accept',
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (follower_id, following_id)
    )`.execute(db);
  await sql`CREATE INDEX follows_following_id_idx ON follows (following_id)`.execute(db);

  // No foreign key to users: the audit trail outlives the accounts it speaks of.
  await sql`
    CREATE TABLE audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      actor text NOT NULL,
      verb text NOT NULL,
      target_user_id bigint,
      target_nickname text,
      reason text,
      details jsonb NOT NULL DEFAULT '{}'
    )`.execute(db);
  await sql`CREATE INDEX audit_log_at_idx ON audit_log (at)`.execute(db);
  await sql`CREATE INDEX audit_log_target_idx ON audit_log (target_user_id, at)`.execute(db);
  await sql`CREATE INDEX audit_log_verb_idx ON audit_log (verb, at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['audit_log', 'follows', 'activities', 'tokens', 'invites', 'users']) {
    await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  }
}
