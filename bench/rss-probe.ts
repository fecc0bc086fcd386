// Preloaded into every ctl process the bench starts (NODE_OPTIONS=--require): on exit, writes the
// process's peak resident set size (kB, from getrusage) to $BENCH_RSS_FILE. Costs well under a
// millisecond, so cold-start figures are not skewed by it.
import * as fs from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    try {
      fs.writeFileSync(file, String(process.resourceUsage().maxRSS));
    } catch {
      /* the bench reports the figure as missing */
    }
  });
}
