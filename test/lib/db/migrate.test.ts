import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../helpers/backend';
import { migrateDown, migrateToLatest, migrationStatus } from '../../../lib/db/migrate';
import { MIGRATIONS } from '../../../migrations/index';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb?.destroy());

test('migrations go down and up again, and status reports them', async () => {
  await tdb.withDb(async ({ db }) => {
    const names = Object.keys(MIGRATIONS).sort();
    expect((await migrationStatus(db)).every((m) => m.executedAt instanceof Date)).toBe(true);
    for (let i = names.length - 1; i >= 0; i--) expect(await migrateDown(db)).toBe(names[i]);
    expect((await migrationStatus(db)).map((m) => m.executedAt)).toEqual(names.map(() => null));
    const { rows } = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'users'`.execute(db);
    expect(rows[0].n).toBe(0);
    expect(await migrateToLatest(db)).toEqual(names);
  });
});
