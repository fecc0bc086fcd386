#!/usr/bin/env node
// The npm registry reachable here serves no packages built for other platforms (404), so `npm
// install` leaves their optional entries (e.g. jest's @unrs/resolver-binding-darwin-arm64) out of
// package-lock.json, and then `npm ci` refuses the lock as "out of sync". This lists each missing
// optional dependency by version, as npm does elsewhere; `npm ci` skips those that do not fit the
// platform. Run it after any `npm install` that rewrites the lock.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.resolve(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [where, meta] of Object.entries({ ...packages })) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = where ? `${where}/node_modules/${name}` : `node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    packages[hoisted] = { version, optional: true };
    added += 1;
  }
}
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: listed ${added} missing optional package(s)`);
