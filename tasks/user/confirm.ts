import type { VerbModule } from '../runner/verb';
import { confirmUser } from '../../lib/user/confirm';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email' })
      .example('$0 user confirm alice', "Confirm alice's email (nothing happens if it already is)")
      .example('$0 user confirm bob@example.com --reason "ticket 4711" --json', 'Confirm bob, record why, print the result as JSON'),
  async run(argv, ctx) {
    const result = await confirmUser(await ctx.lib(), String(argv.user), { dryRun: ctx.dryRun });
    const nick = result.nickname;
    const line = !result.changed
      ? `${nick} doesn't need confirmation.${ctx.dryRunSuffix}`
      : result.dryRun
        ? `${nick} would be confirmed${ctx.dryRunSuffix}`
        : `${nick} confirmed.`;
    ctx.result({ ...result }, [line]);
  },
};

export default verb;
