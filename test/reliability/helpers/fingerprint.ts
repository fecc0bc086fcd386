import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../lib/db/schema';

/**
 * A cheap summary of everything ctl could have written: row count and a hash of every row of
 * every table (the schema grows as issues land, so the tables are read from the catalog). Equal
 * fingerprints before and after a run mean the run wrote nothing.
 */
export async function fingerprint(db: Kysely<Database>): Promise<Record<string, string>> {
  const { rows: tables } = await sql<{ name: string }>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'kysely_%'
    ORDER BY table_name`.execute(db);
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const { rows } = await sql<{ n: number; h: string | null }>`
      SELECT count(*)::int AS n, md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) AS h FROM ${sql.table(name)} AS t`.execute(db);
    out[name] = `${rows[0].n}:${rows[0].h ?? ''}`;
  }
  return out;
}

/** Every value of every row of every table as text, to grep for secrets. */
export async function dumpAll(db: Kysely<Database>): Promise<string> {
  const { rows: tables } = await sql<{ name: string }>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
    ORDER BY table_name`.execute(db);
  let text = '';
  for (const { name } of tables) {
    const { rows } = await sql<{ r: string }>`SELECT t::text AS r FROM ${sql.table(name)} AS t`.execute(db);
    text += `${name}\n${rows.map((r) => r.r).join('\n')}\n`;
  }
  return text;
}
