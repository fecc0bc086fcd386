#!/usr/bin/env node
// `npm test`: type-check and build (test/bin spawns the compiled bin/ctl), then one jest run
// with both projects, PGlite and PostgreSQL. Fails when either backend ran no test; prints its
// wall time.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const root = path.resolve(__dirname, '..');
const started = Date.now();
const TSC_ARGS = ['-p', 'tsconfig.test.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'];

// One type-check of everything (lib, tasks, bench, migrations and the tests, which jest's
// transform only strips of their types) that also emits dist/ (test/bin spawns the compiled
// bin/ctl). It used to be two tsc runs, the build and then the tests with --noEmit, which
// checked lib/ and tasks/ twice (19 s of CPU against 11 s for this one, cold). Incremental: the
// build info lives in dist/, so deleting dist/ starts afresh; an unchanged tree costs ~3 s.
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), ...TSC_ARGS], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
// test/bin spawns bin/ctl as users run it: with the bundled kysely and pg.
const bundle = spawnSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'bundle-vendor.js')], { cwd: root, stdio: 'inherit' });
if (bundle.status !== 0) process.exit(bundle.status ?? 1);

const countsFile = path.join(os.tmpdir(), `userctl-test-counts-${process.pid}.json`);
const args = require('./setup/jest-args').jestArgs(process.argv.slice(2));
const jest = spawnSync(process.execPath, ['--experimental-vm-modules', '--no-warnings', require.resolve('jest/bin/jest'), ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CTL_TEST_COUNTS_FILE: countsFile },
});
let counts = {};
try {
  counts = JSON.parse(fs.readFileSync(countsFile, 'utf8'));
  fs.rmSync(countsFile, { force: true });
} catch {
  console.error('jest wrote no results');
  process.exit(jest.status || 1);
}
let status = jest.status ?? 1;
const total = { passed: 0, failed: 0, skipped: 0, assertions: 0 };
for (const [name, c] of Object.entries(counts)) {
  console.log(`${name}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped (${c.assertions} assertions)`);
  for (const k of Object.keys(total)) total[k] += c[k] ?? 0;
}
// A filtered run (file or -t arguments) may legitimately touch one backend only.
if (args.length === 0) {
  for (const name of ['pglite', 'postgres']) {
    if (!counts[name] || counts[name].passed === 0) {
      console.error(`the ${name} suite ran no test`);
      status = status || 1;
    }
  }
}
const seconds = Math.round((Date.now() - started) / 1000);
console.log(`npm test took ${Math.floor(seconds / 60)} min ${seconds % 60} s (wall time: type-check and build, then jest)`);
console.log(`assertions passed: ${total.assertions}`);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(status);
