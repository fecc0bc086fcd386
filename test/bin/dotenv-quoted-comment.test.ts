import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { runCtl, useTempDir } from '../helpers/cli';

// Issue 12, bug 6, through the real process: `KEY="value"  # comment` in the settings file.
let tdb: TestDatabase;
let dir = '';
useTempDir('ctl-dotenv-', (d) => (dir = d));
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.destroy());

test('a quoted database setting followed by a comment is used as the database', async () => {
  const file = path.join(dir, 'app.env');
  const [key, value] = Object.entries(tdb.env)[0];
  fs.writeFileSync(file, `${key}="${value}"  # prod\nAPP_URL="https://app.example"   # public\n`);
  const r = await runCtl(null, ['user', 'new', 'ann', 'ann@example.com', '-y', '--password-stdin'], {
    input: 'pass-word-1\n',
    env: { CTL_ENV_FILE: file, APP_URL: undefined },
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const shown = await runCtl(tdb, ['user', 'count', '--json']);
  expect(JSON.parse(shown.stdout)).toMatchObject({ total: 1 });
});
