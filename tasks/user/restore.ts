import type { VerbModule } from '../runner/verb';
import { emitResult } from '../shared/bulk-options';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email of a soft-deleted local user' })
      .example('$0 user restore alice', 'Undo `ctl user rm alice` (inside the retention window)'),
  async run(argv, ctx) {
    const { planRestore, restoreUser } = require('../../lib/user/restore') as typeof import('../../lib/user/restore');
    const lib = await ctx.lib();
    const ref = String(argv.user);
    const result = ctx.dryRun ? await planRestore(lib, ref, ctx.config) : await restoreUser(lib, ref, ctx.config);
    const nick = result.nickname;
    if (!result.changed) ctx.say(`User ${nick} is not deleted.`);
    else if (ctx.dryRun) ctx.say(`User ${nick} would be restored${result.active ? '' : ' (staying deactivated)'} (dry run)`);
    else ctx.say(`User ${nick} restored.`);
    if (result.changed && !result.active) ctx.say(`${nick} was deactivated when it was deleted and stays so: ctl user activate ${nick}`);
    emitResult(ctx, { ...result });
  },
};

export default verb;
