import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCtl, useTempDir } from '../helpers/cli';

// Issue 12, bug 2: `DATABASE_URL= ctl ...` and `--database-url ''` used the embedded database
// although .env named a server: a runbook's unset variable wrote to a throwaway local database.
let dir = '';
useTempDir('ctl-empty-url-', (d) => (dir = d));

function setup(): { env: Record<string, string>; dataDir: string } {
  const envFile = path.join(dir, 'server.env');
  fs.writeFileSync(envFile, 'DATABASE_URL=postgres://postgres@127.0.0.1:1/nowhere\n');
  const dataDir = path.join(dir, 'data');
  return { env: { CTL_ENV_FILE: envFile, CTL_DATA_DIR: dataDir }, dataDir };
}

test('DATABASE_URL= (empty) is exit 6 naming the variable, and no embedded database is made', async () => {
  const { env, dataDir } = setup();
  const r = await runCtl(null, ['user', 'count'], { env: { ...env, DATABASE_URL: '' } });
  expect(r.stderr).toContain('DATABASE_URL is set but empty');
  expect(r.stdout).toBe('');
  expect(r.code).toBe(6);
  expect(fs.existsSync(dataDir)).toBe(false);
});

test("--database-url '' is a usage error (exit 2) naming the option", async () => {
  const { env, dataDir } = setup();
  const r = await runCtl(null, ['user', 'count', '--database-url', ''], { env });
  expect(r.stderr).toContain('--database-url is empty');
  expect(r.code).toBe(2);
  expect(fs.existsSync(dataDir)).toBe(false);
});

test('an empty DATABASE_URL in .env is exit 6 too', async () => {
  const { env, dataDir } = setup();
  fs.writeFileSync(env.CTL_ENV_FILE, 'DATABASE_URL=\n');
  const r = await runCtl(null, ['user', 'count'], { env });
  expect(r.stderr).toContain('DATABASE_URL is set but empty');
  expect(r.code).toBe(6);
  expect(fs.existsSync(dataDir)).toBe(false);
});
