import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../helpers/backend';
import { isUpToDate, migrateDown, migrateIfBehind, migrateToLatest, migrationStatus } from '../../../lib/db/migrate';
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

// The embedded database checks its schema with one query on every open (migrateIfBehind) instead
// of asking Kysely's Migrator; anything but "exactly the known migrations ran" must still reach it.
test('the one-query check answers up to date only when exactly the known migrations ran', async () => {
  await tdb.withDb(async ({ db }) => {
    const names = Object.keys(MIGRATIONS).sort();
    expect(await isUpToDate(db)).toBe(true);
    expect(await migrateIfBehind(db)).toEqual([]);

    expect(await migrateDown(db)).toBe(names[names.length - 1]);
    expect(await isUpToDate(db)).toBe(false);
    expect(await migrateIfBehind(db)).toEqual([names[names.length - 1]]);
    expect(await isUpToDate(db)).toBe(true);

    // A migration this version does not know (a newer ctl ran here): the Migrator's own error.
    await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('29991231000000_from_the_future', '2999-12-31T00:00:00Z')`.execute(db);
    expect(await isUpToDate(db)).toBe(false);
    await expect(migrateIfBehind(db)).rejects.toThrow(/29991231000000_from_the_future/);
    await sql`DELETE FROM kysely_migration WHERE name = '29991231000000_from_the_future'`.execute(db);

    // No bookkeeping table at all (a database nothing has migrated yet): not up to date, no error.
    for (let i = names.length - 1; i >= 0; i--) await migrateDown(db);
    await sql`DROP TABLE kysely_migration`.execute(db);
    await sql`DROP TABLE kysely_migration_lock`.execute(db);
    expect(await isUpToDate(db)).toBe(false);
    expect(await migrateIfBehind(db)).toEqual(names);
    expect(await isUpToDate(db)).toBe(true);
  });
});
