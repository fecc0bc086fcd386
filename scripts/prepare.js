#!/usr/bin/env node
'use strict';
// npm's `prepare` (after `npm install` / `npm ci`): build dist/ with tsc when TypeScript is
// installed. `npm ci --omit=dev` (a production install) has no TypeScript: then skip rather than
// fail with `tsc: not found`, and say so when dist/ is missing (README, "Deploy").
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = process.cwd();
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  if (!fs.existsSync(path.join(root, 'dist', 'tasks', 'runner', 'main.js'))) {
    process.stderr.write(
      'userctl: TypeScript is not installed (a production install), so dist/ was not built; ' +
        'build before pruning: npm ci && npm run build && npm prune --omit=dev\n',
    );
  }
  process.exit(0);
}
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
const bundle = spawnSync(process.execPath, [path.join(__dirname, 'bundle-vendor.js')], { cwd: root, stdio: 'inherit' });
process.exit(bundle.status ?? 1);
