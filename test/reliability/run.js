#!/usr/bin/env node
// `npm run test:reliability`: build (the scenarios spawn the compiled bin/ctl), run the suite on
// both backends, then print what it did: scenarios run, faults injected, inputs tried, and a final
// `N passed, N failed`. Fails when either backend ran no scenario.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const root = path.resolve(__dirname, '..', '..');

const started = Date.now();
// The same incremental type-check and build as `npm test` (test/run-all.js): after it, nearly free.
const tsc = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.test.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'],
  { cwd: root, stdio: 'inherit' },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const countsFile = path.join(os.tmpdir(), `userctl-reliability-counts-${process.pid}.json`);
const tallyFile = path.join(os.tmpdir(), `userctl-reliability-tally-${process.pid}.log`);
fs.rmSync(tallyFile, { force: true });
const args = require('../setup/jest-args').jestArgs(process.argv.slice(2));
const jest = spawnSync(
  process.execPath,
  ['--experimental-vm-modules', '--no-warnings', require.resolve('jest/bin/jest'), '--config', path.join(__dirname, 'jest.config.js'), ...args],
  { cwd: root, stdio: 'inherit', env: { ...process.env, CTL_TEST_COUNTS_FILE: countsFile, CTL_RELIABILITY_TALLY_FILE: tallyFile } },
);

let counts = {};
try {
  counts = JSON.parse(fs.readFileSync(countsFile, 'utf8'));
  fs.rmSync(countsFile, { force: true });
} catch {
  console.error('jest wrote no results');
  process.exit(jest.status || 1);
}
// Each scenario appends "faults N" / "inputs N" lines as it injects faults and tries inputs.
const tally = { faults: 0, inputs: 0 };
try {
  for (const line of fs.readFileSync(tallyFile, 'utf8').split('\n')) {
    const [kind, n] = line.split(' ');
    if (kind in tally) tally[kind] += Number(n) || 0;
  }
  fs.rmSync(tallyFile, { force: true });
} catch {
  /* no scenario recorded anything */
}

let status = jest.status ?? 1;
const total = { passed: 0, failed: 0, skipped: 0 };
const perBackend = [];
for (const [name, c] of Object.entries(counts)) {
  perBackend.push(`${c.passed + c.failed} on ${name}`);
  for (const k of Object.keys(total)) total[k] += c[k];
}
if (args.length === 0) {
  for (const name of ['pglite', 'postgres']) {
    if (!counts[name] || counts[name].passed === 0) {
      console.error(`the ${name} reliability suite ran no scenario`);
      status = status || 1;
    }
  }
}
const seconds = Math.round((Date.now() - started) / 1000);
console.log(
  `reliability: ${total.passed + total.failed} scenarios run (${perBackend.join(', ')}), ` +
    `${tally.faults} faults injected, ${tally.inputs} inputs tried, in ${seconds}s`,
);
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exit(status);
