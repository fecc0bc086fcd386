import { sql, type RawBuilder } from 'kysely';

/**
 * The one email rule's key, on the database's side: NFKC, then lower-case. The unique index
 * `users_email_key` is on exactly this expression of `users.email`, so two addresses that differ
 * only by compatibility characters (`\u212A` Kelvin sign, fullwidth letters) or case are one
 * address, and every lookup by email goes through this index. The database computes both sides,
 * so the lookup and the index can never disagree about a character.
 */
export const storedEmailKey: RawBuilder<string> = sql<string>`lower(normalize(users.email, NFKC))`;

/** The key of an address as typed (a `<user>` argument, a form field, an invite's address). */
export function emailKeyOf(email: string): RawBuilder<string> {
  return sql<string>`lower(normalize(${email}::text, NFKC))`;
}
