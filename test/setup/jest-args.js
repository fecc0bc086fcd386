// jest reads every word after `--selectProjects` as one more project name, so
// `npm run test:pglite -- test/lib/user/rm.test.ts` would select no file filter at all and run the
// whole pglite suite. Moving `--selectProjects NAME` to the end keeps the paths as paths.
'use strict';

function jestArgs(args) {
  const rest = [...args];
  const selected = [];
  for (let i = rest.findIndex((a) => a === '--selectProjects'); i >= 0; i = rest.findIndex((a) => a === '--selectProjects')) {
    selected.push(...rest.splice(i, rest[i + 1] && !rest[i + 1].startsWith('-') ? 2 : 1));
  }
  return [...rest, ...selected];
}

module.exports = { jestArgs };
