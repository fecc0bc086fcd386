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
    const stub = meta.dev ? { version, dev: true, optional: true } : { version, optional: true };
    if (packages[nested]) continue;
    if (packages[hoisted]) {
      // A stub (nothing but version and flags), ours or npm's: keep it in npm's shape.
      const isStub = Object.keys(packages[hoisted]).every((k) => ['version', 'dev', 'optional'].includes(k));
      if (isStub) packages[hoisted] = { ...stub, version: packages[hoisted].version };
      continue;
    }
    packages[hoisted] = stub;
    added += 1;
  }
}
// In npm's own order (the root first, then by path), so a later `npm install` leaves the file as it is.
const [root, ...rest] = Object.keys(packages);
lock.packages = Object.fromEntries([root, ...rest.sort((a, b) => a.localeCompare(b, 'en'))].map((k) => [k, packages[k]]));
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: listed ${added} missing optional package(s)`);
