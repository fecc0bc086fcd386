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

/** Runs bin/ctl with a preload that reports, at exit, every module loaded and whether undici was. */
function loadedModules(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; loaded: string[] } {
  const probe = path.join(dir, 'probe.js');
  const report = path.join(dir, 'loaded.json');
  fs.writeFileSync(probe, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(Object.keys(require.cache))));\n`);
  const env = ctlEnv(tdb, { NODE_OPTIONS: `--require ${probe}`, ...extraEnv });
  const r = spawnSync(process.execPath, [CTL, ...args], { cwd: dir, env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, loaded: JSON.parse(fs.readFileSync(report, 'utf8')) as string[] };
}

test('bin/ctl loads kysely, pg and yargs from their bundles in dist/vendor, not from node_modules (start-up, issue 17)', () => {
  const { status, loaded } = loadedModules(['user', 'count', '--json']);
  expect(status).toBe(0);
  for (const name of ['kysely', 'pg', 'yargs']) expect(loaded).toContain(path.join(ROOT, 'dist', 'vendor', `${name}.js`));
  expect(loaded.filter((f) => /node_modules\/(kysely|pg|yargs|yargs-parser|cliui)\//.test(f))).toEqual([]);
  // date-fns one function per file: its index alone is ~300 modules.
  expect(loaded.filter((f) => f.includes('node_modules/date-fns/')).length).toBeLessThan(20);
});

test('bin/ctl reads each bundle once (the loader used to read it and then bin/vendor.js again)', () => {
  const probe = path.join(dir, 'reads.js');
  const report = path.join(dir, 'reads.json');
  fs.writeFileSync(
    probe,
    `const fs = require('fs'); const read = fs.readFileSync; const reads = [];
    fs.readFileSync = function (file, ...rest) { reads.push(String(file)); return read.call(this, file, ...rest); };
    process.on('exit', () => fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify(reads)));\n`,
  );
  const r = spawnSync(process.execPath, [CTL, 'user', 'count', '--json'], {
    cwd: dir,
    env: ctlEnv(tdb, { NODE_OPTIONS: `--require ${probe}` }),
    encoding: 'utf8',
  });
  expect(r.status).toBe(0);
  const reads = JSON.parse(fs.readFileSync(report, 'utf8')) as string[];
  const vendor = path.join(ROOT, 'dist', 'vendor');
  expect(reads.filter((f) => f.startsWith(vendor)).sort()).toEqual(['kysely', 'pg', 'yargs'].flatMap((n) => [`${vendor}/${n}.cache`, `${vendor}/${n}.js`]));
});

test("each bundle's V8 code cache is one a fresh node accepts, so bin/ctl skips compiling them", () => {
  // In a process of its own: V8 rejects a cache made under other flags, and a jest worker that
  // opened PGlite runs with --liftoff-only (lib/db/pglite-options.ts) set after its start.
  const script = `const { compileBundle } = require(${JSON.stringify(path.join(ROOT, 'bin', 'vendor.js'))});
    console.log(JSON.stringify(['kysely', 'pg', 'yargs'].map((n) => [n, compileBundle(${JSON.stringify(path.join(ROOT, 'dist', 'vendor'))} + '/' + n + '.js').script.cachedDataRejected])));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual([
    ['kysely', false],
    ['pg', false],
    ['yargs', false],
  ]);
});

test('the pg bundle does not construct a Response to ask whether it runs on Cloudflare (that loads undici, ~20 ms)', () => {
  const probe = path.join(dir, 'undici.js');
  const report = path.join(dir, 'undici.json');
  // undici is one of Node's own modules: whether it loaded shows in process.moduleLoadList.
  fs.writeFileSync(
    probe,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList.filter((m) => /undici/.test(m)))));\n`,
  );
  const r = spawnSync(process.execPath, [CTL, 'user', 'count', '--json'], {
    cwd: dir,
    env: ctlEnv(tdb, { NODE_OPTIONS: `--require ${probe}` }),
    encoding: 'utf8',
  });
  expect(r.status).toBe(0);
  expect(JSON.parse(fs.readFileSync(report, 'utf8'))).toEqual([]);
});

test("the yargs bundle loads node:assert only to throw its error: assert's colours make process.stderr (~3 ms)", () => {
  const probe = path.join(dir, 'assert.js');
  const report = path.join(dir, 'assert.json');
  fs.writeFileSync(
    probe,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule (assert|internal\\/util\\/colors)$/.test(m)))));\n`,
  );
  for (const args of [
    ['user', '--help'],
    ['user', 'count', '--json'],
  ]) {
    const r = spawnSync(process.execPath, [CTL, ...args], { cwd: dir, env: ctlEnv(tdb, { NODE_OPTIONS: `--require ${probe}` }), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(fs.readFileSync(report, 'utf8'))).toEqual([]);
  }
});

test('the bundled yargs still reads its translations from node_modules/yargs/locales', () => {
  const { status, stdout } = loadedModules(['user', '--help'], { LANG: 'de_DE.UTF-8', LC_ALL: '' });
  expect(status).toBe(0);
  expect(stdout).toContain('Kommandos:');
});
