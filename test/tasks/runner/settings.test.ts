import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Settings from the environment and the .env file: a bad one is exit 6 naming it.

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

describe('settings', () => {
  test('an unreachable database is exit 6 with one line and no password in it', async () => {
    const r = await run(null, ['user', 'list'], { env: { DATABASE_URL: 'postgres://admin:hunter2@127.0.0.1:1/app' } });
    expect(r.code).toBe(6);
    expect(r.stderr).toBe('cannot reach the database at postgres://admin:***@127.0.0.1:1/app: connect ECONNREFUSED 127.0.0.1:1\n');
  });

  test('a bad setting is exit 6 naming the variable, before anything else', async () => {
    const r = await ctl(['user', 'list'], { env: { APP_URL: 'not a url' } });
    expect(r).toMatchObject({ code: 6, stderr: 'APP_URL has a bad value "not a url": not a URL\n' });
    const port = await ctl(['user', 'list'], { env: { DATABASE_URL: 'postgres://h:99999/db' } });
    expect(port.code).toBe(6);
    expect(port.stderr).toMatch(/^DATABASE_URL has a bad value/);
  });

  test('settings come from the .env file when the environment lacks them, and the environment wins', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-env-'));
    const file = path.join(dir, '.env');
    fs.writeFileSync(file, 'APP_URL=http://from-file.test\n# comment\n');
    const r = await ctl(['user', 'new', 'erin', 'erin@example.com', '-y'], { env: { CTL_ENV_FILE: file, APP_URL: undefined } });
    expect(r.stdout).toContain('URL: http://from-file.test/password_reset/');
    const r2 = await ctl(['user', 'new', 'fred', 'fred@example.com', '-y'], { env: { CTL_ENV_FILE: file, APP_URL: 'http://from-env.test' } });
    expect(r2.stdout).toContain('URL: http://from-env.test/password_reset/');
    fs.rmSync(dir, { recursive: true });
  });
});
