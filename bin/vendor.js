'use strict';
// kysely, pg and yargs as one bundled file each (scripts/bundle-vendor.js) instead of ~300 modules, each
// compiled with the V8 code cache made beside it at build time: ~100 ms of every verb that opens
// the database came from loading them, and a third of `--help` (issue 17). Without the bundles they
// load from node_modules.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

/**
 * Compiles a bundle as Node would compile a CommonJS file, with its code cache when there is one
 * V8 accepts (one made by another Node version is rejected and the file compiles as usual). The
 * bundles are ASCII (esbuild's default charset; scripts/bundle-vendor.js checks), so the source is
 * read as latin1: a byte per character without UTF-8 decoding, the same string.
 */
function compileBundle(file, module = { exports: {} }) {
  const cacheFile = file.replace(/\.js$/, '.cache');
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'latin1')), { filename: file, cachedData });
  // The bundles require only Node's own modules (pg-native is never loaded by ctl).
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
  return { exports: module.exports, script, cacheFile };
}

/** Makes `require('kysely')`, `require('pg')` and `require('yargs')` load the bundles in dist/vendor, when built. */
function useVendorBundles(distDir) {
  const vendor = path.join(distDir, 'vendor');
  const bundled = new Map(['kysely', 'pg', 'yargs'].map((name) => [name, path.join(vendor, `${name}.js`)]).filter(([, file]) => fs.existsSync(file)));
  if (bundled.size === 0) return;
  const files = new Set(bundled.values());
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return bundled.get(request) ?? resolve.call(this, request, ...rest);
  };
  // In place of the loader's own step for .js files, which reads the file (decoding UTF-8) before
  // compiling it: compileBundle reads it once itself (each bundle was read twice, ~8 ms of every verb).
  const loadJs = Module._extensions['.js'];
  Module._extensions['.js'] = function (module, filename) {
    if (!files.has(filename)) return loadJs.call(this, module, filename);
    compileBundle(filename, module);
  };
}

module.exports = { compileBundle, useVendorBundles };
