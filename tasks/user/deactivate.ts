import type { VerbModule } from '../runner/verb';
import { plural } from '../../lib/text';
import { deactivateUser } from '../../lib/user/activate';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email (local or remote user)' })
      .example('$0 user deactivate alice --reason "spam"', 'Deactivate alice, drop her follows with local users, sign her out')
      .example('$0 user ban spammer@remote.example', 'The same for a remote account'),
  async run(argv, ctx) {
    const lib = await ctx.lib();
    const result = await deactivateUser(lib, String(argv.user), { dryRun: ctx.dryRun });
    const nick = result.nickname;
    const what = `${plural(result.unfollowed, 'follow')} with local users, ${plural(result.revokedSessions, 'session')}`;
    const lines = !result.changed
      ? [`User ${nick} already deactivated`]
      : ctx.dryRun
        ? [`${nick} would be deactivated; it would lose ${what}${ctx.dryRunSuffix}`]
        : [`Successfully deactivated ${nick} and unsubscribed all local followers`, `Removed ${what}.`];
    ctx.result({ ...result }, lines);
  },
};

export default verb;
