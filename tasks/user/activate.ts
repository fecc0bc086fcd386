import type { VerbModule } from '../runner/verb';
import { activateUser } from '../../lib/user/activate';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email (local or remote user)' })
      .example('$0 user activate alice', 'Let alice sign in again')
      .example('$0 user unban alice@example.com --reason "appeal accepted"', 'The same by email, with a reason for the audit log'),
  async run(argv, ctx) {
    const lib = await ctx.lib();
    const result = await activateUser(lib, String(argv.user), { dryRun: ctx.dryRun });
    const nick = result.nickname;
    const line = !result.changed
      ? `User ${nick} already activated`
      : ctx.dryRun
        ? `${nick} would be activated${ctx.dryRunSuffix}`
        : `Successfully activated ${nick}`;
    ctx.result({ id: result.id, nickname: nick, active: result.active, changed: result.changed, dryRun: result.dryRun }, [line]);
  },
};

export default verb;
