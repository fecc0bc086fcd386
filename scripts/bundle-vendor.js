#!/usr/bin/env node
'use strict';
// Bundles kysely (~260 CommonJS files) and pg (~30 with its dependencies) into dist/vendor/, which
// bin/ctl loads in their place: on this machine requiring kysely took ~150 ms and its bundle ~45 ms,
// most of the gap between `ctl user show` and `node -e 0` (issue 17). Part of `npm run build` and
// `prepare`. A production install without dev dependencies has no esbuild: then nothing is
// bundled and bin/ctl loads both from node_modules as before.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  process.exit(0);
}
fs.mkdirSync(path.join(root, 'dist', 'vendor'), { recursive: true });
for (const name of ['kysely', 'pg']) {
  esbuild.buildSync({
    entryPoints: [require.resolve(name, { paths: [root] })],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // pg's optional native binding is required only when pg.native is read, never by ctl.
    external: ['pg-native'],
    outfile: path.join(root, 'dist', 'vendor', `${name}.js`),
    logLevel: 'warning',
  });
}
