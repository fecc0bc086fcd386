import { Client } from 'pg';
import * as paths from '../setup/paths';
import { runCtl } from '../helpers/cli';

// A server whose schema lags is exit 6 with the command that migrates it. Named by --database-url,
// that command must name it too: `./bin/ctl migrate` alone migrates DATABASE_URL's database (or the
// embedded one), not this one.
const name = `${paths.PG_PREFIX}_unmigrated`;
const url = paths.pgUrl(name);

async function admin(statement: string): Promise<void> {
  const client = new Client({ connectionString: paths.PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

beforeAll(() => admin(`CREATE DATABASE "${name}"`));
afterAll(() => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));

test('named by --database-url, the advice repeats it; named by DATABASE_URL, it does not need to', async () => {
  const byOption = await runCtl(null, ['user', 'list', '--database-url', url], { env: { DATABASE_URL: '' } });
  expect(byOption).toMatchObject({
    code: 6,
    stdout: '',
    stderr: expect.stringMatching(/not migrated .*; run \.\/bin\/ctl migrate --database-url <the same URL>\n$/),
  });
  const byEnv = await runCtl(null, ['user', 'list'], { env: { DATABASE_URL: url } });
  expect(byEnv).toMatchObject({ code: 6, stdout: '', stderr: expect.stringMatching(/not migrated .*; run \.\/bin\/ctl migrate\n$/) });
});
