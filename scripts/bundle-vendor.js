#!/usr/bin/env node
'use strict';
// Bundles kysely (~260 CommonJS files), pg (~30 with its dependencies) and yargs (~15) into dist/vendor/, which
// bin/ctl loads in their place: on this machine requiring kysely took ~150 ms and its bundle ~45 ms,
// most of the gap between `ctl user show` and `node -e 0` (issue 17). Beside each bundle goes V8's
// code cache for it (`<name>.cache`), made here after exercising the parts every verb uses, so that
// bin/ctl skips parsing and compiling them (bin/vendor.js). Part of `npm run build` and `prepare`. A
// production install without dev dependencies has no esbuild: then nothing is bundled and bin/ctl
// loads both from node_modules as before.
const fs = require('node:fs');
const path = require('node:path');
const { compileBundle } = require('../bin/vendor');

const root = path.resolve(__dirname, '..');
let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  process.exit(0);
}

/**
 * pg asks at load whether it runs on Cloudflare Workers by constructing a `Response`, which on
 * Node 20 loads undici (~20 ms of CPU on every verb). ctl never runs there: the bundle answers no.
 */
const notCloudflare = {
  name: 'pg-not-cloudflare',
  setup(build) {
    build.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      const probe = 'if (isCloudflareRuntime()) {';
      if (!source.includes(probe))
        return { contents: source, loader: 'js', warnings: [{ text: `pg/lib/stream.js no longer has "${probe}": the Cloudflare probe is bundled as is` }] };
      return { contents: source.replace(probe, 'if (false) {'), loader: 'js' };
    });
  },
};

/**
 * yargs reads its translations (LANG) from `../locales` beside its own file; from the bundle in
 * dist/vendor that is node_modules/yargs/locales, named relative to the bundle. ctl sets no
 * version, so the bundle's factory does not look for one.
 */
function yargsLocales(out) {
  const locales = path.join(path.dirname(require.resolve('yargs/package.json', { paths: [root] })), 'locales');
  const relative = path.relative(out, locales).split(path.sep).join('/');
  return {
    name: 'yargs-locales',
    setup(build) {
      // Printable ASCII measured by its length (scripts/vendor-shims/string-width.js).
      build.onResolve({ filter: /^string-width$/ }, () => ({ path: path.join(__dirname, 'vendor-shims', 'string-width.js') }));
      build.onLoad({ filter: /[\\/]yargs[\\/]build[\\/]index\.cjs$/ }, (args) => {
        const source = fs.readFileSync(args.path, 'utf8');
        const dir = 're(__dirname,"../locales")';
        if (!source.includes(dir)) throw new Error(`yargs/build/index.cjs no longer has ${dir}: update scripts/bundle-vendor.js`);
        // The factory guesses a --version from the nearest package.json (a readdir per directory
        // up from bin/ctl, then a read) before ctl turns the option off with .version(false).
        const guess = 'i.help(),i.version(),i}';
        if (!source.includes(guess)) throw new Error(`yargs/build/index.cjs no longer has ${guess}: update scripts/bundle-vendor.js`);
        // After every command's handler yargs renders the whole help text and keeps it, for a
        // later showHelp(); ctl never shows help after a handler ran (showHelpOnFail(false)), and
        // the rendering (cliui, string widths) cost every verb ~5-10 ms before its first query.
        const cache = 'n.cacheHelpMessage=function(){w=this.help()}';
        if (!source.includes(cache)) throw new Error(`yargs/build/index.cjs no longer has ${cache}: update scripts/bundle-vendor.js`);
        // yargs requires node:assert at load for two checks it makes on every run; loading assert
        // loads its colours, which make process.stderr (~3 ms of every verb). The same checks
        // (Object.is, as assert's), with assert required only to throw its error when one fails.
        const assertAtLoad = 'var t=require("assert");';
        const asserts = 'assert:{notStrictEqual:t.notStrictEqual,strictEqual:t.strictEqual}';
        for (const text of [assertAtLoad, asserts]) {
          if (!source.includes(text)) throw new Error(`yargs/build/index.cjs no longer has ${text}: update scripts/bundle-vendor.js`);
        }
        const patched = source
          .replace(dir, `re(__dirname,${JSON.stringify(relative)})`)
          .replace(guess, 'i.help(),i}')
          .replace(cache, 'n.cacheHelpMessage=function(){}')
          .replace(assertAtLoad, 'var t=null;')
          .replace(
            asserts,
            'assert:{notStrictEqual:(a,b,m)=>{if(Object.is(a,b))require("assert").notStrictEqual(a,b,m)},strictEqual:(a,b,m)=>{if(!Object.is(a,b))require("assert").strictEqual(a,b,m)}}',
          );
        return { contents: patched, loader: 'js' };
      });
    },
  };
}

/** Runs what every verb runs, so that those functions are compiled before the cache is taken. */
const exercise = {
  kysely(k, pg) {
    const db = new k.Kysely({ dialect: new k.PostgresDialect({ pool: new pg.Pool() }) });
    const id = 1;
    db.selectFrom('users')
      .selectAll()
      .where((eb) => eb.or([eb('nickname', '=', 'a'), eb(k.sql`lower(email)`, '=', 'a')]))
      .orderBy('id')
      .limit(1)
      .compile();
    db.selectFrom('users')
      .select((eb) => [eb.selectFrom('tokens').select(eb.fn.countAll().as('n')).where('user_id', '=', id).as('n')])
      .compile();
    db.insertInto('audit_log').values({ verb: 'x', actor: 'y' }).returning('id').compile();
    db.updateTable('users').set({ active: false }).where('id', 'in', [1, 2]).compile();
    db.deleteFrom('tokens').where('user_id', '=', id).compile();
    return db.destroy();
  },
  yargs(yargs) {
    const y = yargs(['user', 'show', 'alice', '--format', 'json'])
      .scriptName('ctl')
      .option('format', { type: 'string', choices: ['table', 'json'], describe: 'Output format' })
      .command('user <verb>', 'Manage user accounts', (inner) => inner.command('show <user>', 'Show a user', (v) => v.positional('user', { type: 'string' })))
      .strict()
      .exitProcess(false)
      .fail(() => undefined);
    return y.getHelp();
  },
  pg(pg) {
    const pool = new pg.Pool({ connectionString: 'postgres://u@127.0.0.1:1/d' });
    pg.types.getTypeParser(20);
    return pool.end();
  },
};

async function main() {
  const out = path.join(root, 'dist', 'vendor');
  fs.mkdirSync(out, { recursive: true });
  for (const name of ['kysely', 'pg', 'yargs']) {
    await esbuild.build({
      entryPoints: [require.resolve(name, { paths: [root] })],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      // pg's optional native binding is required only when pg.native is read, never by ctl.
      external: ['pg-native'],
      plugins: name === 'pg' ? [notCloudflare] : name === 'yargs' ? [yargsLocales(out)] : [],
      // Whitespace and syntax only: names stay, so stack traces still name kysely's and pg's functions.
      minifyWhitespace: true,
      minifySyntax: true,
      outfile: path.join(out, `${name}.js`),
      logLevel: 'warning',
    });
  }
  // bin/vendor.js reads the bundles as latin1, which is their text only when every byte is ASCII
  // (esbuild's default charset escapes the rest).
  for (const name of ['kysely', 'pg', 'yargs']) {
    const bytes = fs.readFileSync(path.join(out, `${name}.js`));
    const at = bytes.findIndex((b) => b > 0x7f);
    if (at >= 0) {
      // Nothing half-made is left for bin/ctl to read: without dist/vendor it loads node_modules.
      fs.rmSync(out, { recursive: true, force: true });
      throw new Error(`dist/vendor/${name}.js has a non-ASCII byte at ${at}: bin/vendor.js reads the bundles as latin1`);
    }
  }
  // The code caches: each bundle compiled the way bin/ctl compiles it, run, exercised, then saved.
  const pgBundle = compileBundle(path.join(out, 'pg.js'));
  const kyselyBundle = compileBundle(path.join(out, 'kysely.js'));
  const yargsBundle = compileBundle(path.join(out, 'yargs.js'));
  await exercise.pg(pgBundle.exports);
  await exercise.kysely(kyselyBundle.exports, pgBundle.exports);
  await exercise.yargs(yargsBundle.exports);
  for (const bundle of [pgBundle, kyselyBundle, yargsBundle]) fs.writeFileSync(bundle.cacheFile, bundle.script.createCachedData());
}

main().catch((error) => {
  process.stderr.write(`bundle-vendor: ${error.stack || error}\n`);
  process.exit(1);
});
