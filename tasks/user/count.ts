import type { VerbModule } from '../runner/verb';
import { parseSince } from '../../lib/dates';
import { countUsers } from '../../lib/user/count';

const verb: VerbModule = {
  builder: (y) =>
    y
      .option('active-since', {
        type: 'string',
        default: '365d',
        describe: 'The window for "active": a duration back from now (365d, 12w, 24h), a day (2024-01-01) or an ISO timestamp',
      })
      .example('$0 user count', 'Local users, and those who logged in within the last 365 days')
      .example('$0 user count --active-since 30d --json', 'The same for 30 days, as JSON for a monitoring job'),
  async run(argv, ctx) {
    const since = parseSince(String(argv.activeSince), '--active-since', ctx.now());
    const { db } = await ctx.db();
    const counts = await countUsers(db, since);
    ctx.result({ ...counts });
  },
};

export default verb;
