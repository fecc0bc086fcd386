import type { VerbModule } from '../runner/verb';
import { requireUser } from '../../lib/user/find';
import setVerb from './set';
import confirmVerb from './confirm';

/**
 * Pleroma's older `toggle_confirmed <nickname>`: unconfirms a confirmed user (`set --no-confirmed`,
 * which issues a confirmation link) and confirms an unconfirmed one (`confirm`).
 */
const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email' })
      .example('$0 user toggle_confirmed alice', "Unconfirm alice's email if it is confirmed, else confirm it"),
  async run(argv, ctx) {
    const user = await requireUser((await ctx.lib()).db, String(argv.user));
    if (user.confirmed) await setVerb.run({ ...argv, confirmed: false }, ctx);
    else await confirmVerb.run(argv, ctx);
  },
};

export default verb;
