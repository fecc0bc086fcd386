import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { runCtl } from '../helpers/cli';

// Issue 12, bug 4: `migrate down` without a TTY and -y refuses (exit 5) and names nothing;
// --dry-run names the migration it would undo.
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.destroy());

test('without a TTY and -y, migrate down is refused and the schema is kept', async () => {
  const r = await runCtl(tdb, ['migrate', 'down']);
  expect(r.stderr).toContain('refusing to undo a migration without confirmation');
  expect(r.code).toBe(5);
  const status = await runCtl(tdb, ['migrate', 'status', '--json']);
  expect(JSON.parse(status.stdout).migrations.every((m: { executedAt: string | null }) => m.executedAt !== null)).toBe(true);
});

test('--dry-run names the newest applied migration', async () => {
  const status = JSON.parse((await runCtl(tdb, ['migrate', 'status', '--json'])).stdout).migrations as { name: string }[];
  const r = await runCtl(tdb, ['migrate', 'down', '--dry-run']);
  expect(r.stdout).toBe(`Would undo the newest migration: ${status[status.length - 1].name} (dry run)\n`);
  expect(r.code).toBe(0);
});
