import type { VerbModule } from '../runner/verb';
import { planRestore, restoreUser } from '../../lib/user/restore';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email of a soft-deleted local user' })
      .example('$0 user restore alice', 'Undo `ctl user rm alice` (inside the retention window)'),
  async run(argv, ctx) {
    const lib = await ctx.lib();
    const ref = String(argv.user);
    const result = ctx.dryRun ? await planRestore(lib, ref, ctx.config) : await restoreUser(lib, ref, ctx.config);
    const nick = result.nickname;
    const lines = [
      !result.changed
        ? `User ${nick} is not deleted.`
        : ctx.dryRun
          ? `User ${nick} would be restored${result.active ? '' : ' (staying deactivated)'}${ctx.dryRunSuffix}`
          : `User ${nick} restored.`,
    ];
    if (result.changed && !result.active) lines.push(`${nick} was deactivated when it was deleted and stays so: ctl user activate ${nick}`);
    ctx.result({ ...result }, lines);
  },
};

export default verb;
