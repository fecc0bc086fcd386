import { sql, type Kysely } from 'kysely';
import { ConflictError } from '../lib/errors';

/**
 * Email uniqueness on the one email rule's key (lib/user/email-key.ts): NFKC, then lower-case, so
 * `\u212Aate@example.com` (Kelvin sign) and `kate@example.com` are one address to the database
 * too, not only to the checks in front of it. Rows written before the rule (or by an app) may
 * already collide: they are listed and nothing changes, rather than the unique index failing on
 * the first pair it meets.
 *
 * Avatars move to unguessable paths (`/avatars/<id>-<32 hex>.<ext>`): the server no longer serves
 * `/avatars/<id>.<ext>`, so the stored paths get their random part here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ key: string; accounts: string[] }>`
    SELECT lower(normalize(email, NFKC)) AS key,
           array_agg('#' || id || ' ' || nickname || ' <' || email || '>' ORDER BY id) AS accounts
      FROM users
     WHERE email IS NOT NULL
     GROUP BY 1
    HAVING count(*) > 1
     ORDER BY 1
     LIMIT 50`.execute(db);
  if (rows.length > 0) {
    const list = rows.map((r) => `${r.key}: ${r.accounts.join(', ')}`).join('; ');
    throw new ConflictError(
      `${rows.length}${rows.length === 50 ? ' or more' : ''} email addresses belong to more than one account once compared by the email rule ` +
        `(Unicode NFKC, case-insensitively): ${list}. Give each account its own address ` +
        `(UPDATE users SET email = '...' WHERE id = ...), then run ./bin/ctl migrate again; nothing was changed`,
    );
  }
  await sql`CREATE UNIQUE INDEX users_email_key ON users (lower(normalize(email, NFKC)))`.execute(db);
  await sql`DROP INDEX users_email_lower_key`.execute(db);
  await sql`
    UPDATE users SET avatar = regexp_replace(avatar, '^/avatars/(\\d+)\\.', '/avatars/\\1-' || replace(gen_random_uuid()::text, '-', '') || '.')
     WHERE avatar ~ '^/avatars/\\d+\\.'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`UPDATE users SET avatar = regexp_replace(avatar, '^/avatars/(\\d+)-[0-9a-f]+\\.', '/avatars/\\1.') WHERE avatar ~ '^/avatars/\\d+-'`.execute(db);
  await sql`CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))`.execute(db);
  await sql`DROP INDEX users_email_key`.execute(db);
}
