import type { VerbModule } from '../runner/verb';

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
    const { requireUser } = require('../../lib/user/find') as typeof import('../../lib/user/find');
    const user = await requireUser((await ctx.lib()).db, String(argv.user));
    if (user.confirmed) await (require('./set').default as VerbModule).run({ ...argv, confirmed: false }, ctx);
    else await (require('./confirm').default as VerbModule).run(argv, ctx);
  },
};

export default verb;
