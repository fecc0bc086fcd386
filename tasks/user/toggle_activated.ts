import type { VerbModule } from '../runner/verb';
import { requireUser } from '../../lib/user/find';
import activateVerb from './activate';
import deactivateVerb from './deactivate';

/**
 * Pleroma's older `toggle_activated <nickname>`: deactivates an active user, activates an inactive
 * one, with the messages and results of `deactivate` and `activate`.
 */
const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email' })
      .example('$0 user toggle_activated alice', 'Deactivate alice if she is active, else activate her'),
  async run(argv, ctx) {
    const user = await requireUser((await ctx.lib()).db, String(argv.user));
    const target = user.active ? deactivateVerb : activateVerb;
    await target.run(argv, ctx);
  },
};

export default verb;
