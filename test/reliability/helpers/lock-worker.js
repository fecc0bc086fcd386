// Spawned by embedded-db.pglite.test.ts: takes the data-directory lock exactly as bin/ctl does
// (the compiled lib/lock-file.js), records when it is inside, holds it briefly, and lets go.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { acquireFileLock } = require('../../../dist/lib/db/lock-file.js');

const [dir, holdMs] = process.argv.slice(2);
(async () => {
  const lock = await acquireFileLock(path.join(dir, 'ctl.lock'), 120000, 'test');
  fs.appendFileSync(path.join(dir, 'log'), `in ${process.pid}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  fs.appendFileSync(path.join(dir, 'log'), `out ${process.pid}\n`);
  lock.release();
})();
