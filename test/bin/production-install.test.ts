import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { CTL, ROOT, ctlEnv, useTempDir } from '../helpers/cli';

// Issue 12, bug 10: `npm ci --omit=dev` failed in `prepare` (`tsc: not found`), and nothing said
// how to put ctl on the PATH. The full recipe (npm ci && npm run build && npm prune --omit=dev)
// downloads packages, so it was verified by hand; these are its cheap parts.
let dir = '';
let tdb: TestDatabase;
useTempDir('ctl-deploy-', (d) => (dir = d));
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.destroy());

test('prepare without TypeScript installed (a production install) succeeds and names the recipe', () => {
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name":"copy","private":true}\n');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'prepare.js')], { cwd: app, encoding: 'utf8' });
  expect(r.stderr).toContain('npm ci && npm run build && npm prune --omit=dev');
  expect(r.status).toBe(0);
});

test('package.json runs that script as prepare, and the production dependencies hold what dist/ needs at run time', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect(pkg.scripts.prepare).toBe('node scripts/prepare.js');
  for (const dep of ['yargs', 'pg', 'kysely', '@electric-sql/pglite', 'bcryptjs']) expect(pkg.dependencies[dep]).toBeDefined();
});

test('ctl symlinked into a folder on the PATH (README, Deploy) runs from anywhere', () => {
  const binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync(CTL, path.join(binDir, 'ctl'));
  const env = ctlEnv(tdb, { PATH: `${binDir}:${path.dirname(process.execPath)}:/usr/bin:/bin` });
  const r = spawnSync('ctl', ['user', 'count', '--json'], { cwd: dir, env, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toMatchObject({ total: 0 });
  expect(r.status).toBe(0);
});

test('bin/ctl loads kysely and pg from their bundles in dist/vendor, not from node_modules (start-up, issue 17)', () => {
  const probe = path.join(dir, 'probe.js');
  const report = path.join(dir, 'loaded.json');
  fs.writeFileSync(probe, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(Object.keys(require.cache))));\n`);
  const env = ctlEnv(tdb, { NODE_OPTIONS: `--require ${probe}` });
  const r = spawnSync(process.execPath, [CTL, 'user', 'count', '--json'], { cwd: dir, env, encoding: 'utf8' });
  expect(r.status).toBe(0);
  const loaded: string[] = JSON.parse(fs.readFileSync(report, 'utf8'));
  expect(loaded).toContain(path.join(ROOT, 'dist', 'vendor', 'kysely.js'));
  expect(loaded).toContain(path.join(ROOT, 'dist', 'vendor', 'pg.js'));
  expect(loaded.filter((f) => /node_modules\/(kysely|pg)\//.test(f))).toEqual([]);
});
