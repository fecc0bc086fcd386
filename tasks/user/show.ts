import type { VerbModule } from '../runner/verb';
import { showUser } from '../../lib/user/show';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email' })
      .example('$0 user show alice', "alice's fields and counts")
      .example('$0 user stats alice@example.com --json', 'The same as JSON'),
  async run(argv, ctx) {
    const { db } = await ctx.db();
    const details = await showUser(db, String(argv.user), ctx.now());
    ctx.result({ ...details });
  },
};

export default verb;
