import { sql } from 'kysely';
import { useOpenTestDatabase } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import { copySourceOf } from '../../../lib/db/copy-out';

// COPY's text as the server writes it, through the reader of the protocol in
// lib/db/copy-to-stream.ts on a server (PGlite: its /dev/blob). Megabytes of rows arrive in many
// socket chunks, so message headers and rows are cut at every kind of place.

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

async function copied(query: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of copySourceOf(h.db)!.copyOut(query)) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const rows = (n: number) => Array.from({ length: n }, (_, k) => `${k + 1}\t${'é'.repeat((k + 1) % 300)}\n`).join('');

test('every byte of a few megabytes of rows, in order', async () => {
  expect(await copied(`SELECT g, repeat('é', g % 300) FROM generate_series(1, 20000) g`)).toBe(rows(20000));
  expect(await copied(`SELECT 1 WHERE false`)).toBe('');
});

test('notices sent between the rows are not part of the text', async () => {
  await sql`CREATE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS $$
    BEGIN IF i % 500 = 0 THEN RAISE NOTICE 'row %', i; END IF; RETURN i; END $$`.execute(h.db);
  expect(await copied(`SELECT noisy(g), repeat('é', g % 300) FROM generate_series(1, 3000) g`)).toBe(rows(3000));
});

test('an error after some rows fails the export, and the database still answers after', async () => {
  await expect(copied(`SELECT g, 1 / (g - 15000) FROM generate_series(1, 20000) g`)).rejects.toThrow(/division by zero/);
  expect(await copied(`SELECT g, repeat('é', g % 300) FROM generate_series(1, 10) g`)).toBe(rows(10));
  const { rows: answer } = await sql<{ n: number }>`SELECT 1 AS n`.execute(h.db);
  expect(answer).toEqual([{ n: 1 }]);
});
