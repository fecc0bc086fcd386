import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../../helpers/cli';
import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';

// Issue 12: the README's own `new` example had no -y and so always exited 5. Every `ctl user new`
// line of the README runs here as written (a `<<< 'text'` here-string becomes stdin).
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const lines = fs
  .readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  .split('\n')
  .map((l) => /\.\/bin\/ctl (user new [^#]*?)\s*(?:#.*)?$/.exec(l)?.[1])
  .filter((l): l is string => l !== undefined && !l.includes('<'.repeat(2) + ' "'));

/** Splits a shell line into words: single and double quotes, and a trailing `<<< 'input'`. */
function shellWords(line: string): { args: string[]; input: string } {
  const [command, hereString] = line.split(' <<< ');
  const words = [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
  const input = hereString === undefined ? '' : `${hereString.trim().replace(/^'(.*)'$/, '$1')}\n`;
  return { args: words, input };
}

test('the README has new examples', () => {
  expect(lines.length).toBeGreaterThanOrEqual(3);
});

test.each(lines)('%s', async (line) => {
  const { args, input } = shellWords(line);
  const r = await ctl(tdb, args, { input });
  expect(r.stderr).not.toMatch(/refusing|Unknown/);
  expect(r.code).toBe(0);
});
