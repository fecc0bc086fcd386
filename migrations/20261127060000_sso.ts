import { sql, type Kysely } from 'kysely';

/**
 * Single sign-on (issue 16). `users.provider` says how an account proves who it is: 'local' (a
 * password here) or the identity provider that created or claimed it, so the CLI can show it and
 * refuse a password reset that would do nothing. `external_identities` maps a provider's subject
 * (an LDAP DN, an OpenID `sub`, a SAML NameID) to the account: the subject, never the email, is
 * what a later login is matched on, as an email can change hands in the directory.
 * `saml_assertions` keeps the ids of consumed assertions until they expire, in the database so
 * every `ctl serve` behind a load balancer refuses a replay.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN provider text NOT NULL DEFAULT 'local' CHECK (provider IN ('local', 'ldap', 'oidc', 'saml'))`.execute(db);
  await sql`CREATE INDEX users_provider_idx ON users (provider) WHERE provider <> 'local'`.execute(db);
  await sql`
    CREATE TABLE external_identities (
      id bigserial PRIMARY KEY,
      provider text NOT NULL CHECK (provider IN ('ldap', 'oidc', 'saml')),
      subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 1024),
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_login_at timestamptz,
      UNIQUE (provider, subject)
    )`.execute(db);
  await sql`CREATE INDEX external_identities_user_idx ON external_identities (user_id)`.execute(db);
  await sql`
    CREATE TABLE saml_assertions (
      assertion_id text PRIMARY KEY CHECK (length(assertion_id) BETWEEN 1 AND 512),
      expires_at timestamptz NOT NULL
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS saml_assertions`.execute(db);
  await sql`DROP TABLE IF EXISTS external_identities`.execute(db);
  await sql`ALTER TABLE users DROP COLUMN IF EXISTS provider`.execute(db);
}
