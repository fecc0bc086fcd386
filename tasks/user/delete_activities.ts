import type { VerbModule } from '../runner/verb';
import { batchSizingOf, batchSizeOption, emitResult, plural } from '../shared/bulk-options';

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(y.positional('user', { type: 'string', describe: 'Nickname or email of a local user' }))
      .example('$0 user delete_activities alice', 'Count her posts and interactions, ask, then delete them in batches')
      .example('$0 user delete_activities alice -y --batch-size 1000', 'Without asking, 1000 rows per transaction'),
  async run(argv, ctx) {
    const { planDeleteActivities, deleteActivities } = require('../../lib/user/delete_activities') as typeof import('../../lib/user/delete_activities');
    const { startProgress } = require('../runner/progress') as typeof import('../runner/progress');
    const lib = await ctx.lib();
    const plan = await planDeleteActivities(lib, String(argv.user));
    const nick = plan.nickname;
    if (ctx.dryRun) {
      ctx.say(`${plural(plan.activities, 'activity', 'activities')} of ${nick} would be deleted (dry run)`);
      emitResult(ctx, { id: plan.id, nickname: nick, dryRun: true, wouldDelete: plan.activities });
      return;
    }
    if (plan.activities > 0) {
      await ctx.confirm(`Delete ${plural(plan.activities, 'activity', 'activities')} (posts and interactions) of ${nick}? [y/N] `, { what: `delete the activities of ${nick}`, declined: 'Nothing was deleted.' });
    }
    const progress = startProgress(ctx, `Deleting the activities of ${nick}`, plan.activities);
    let result;
    try {
      result = await deleteActivities(lib, plan, batchSizingOf(argv, ctx), { signal: ctx.signal, onProgress: (p) => progress.update(p) });
    } finally {
      progress.stop();
    }
    ctx.say(`User ${nick} statuses deleted.`);
    ctx.say(`Deleted ${plural(result.deleted, 'activity', 'activities')} in ${plural(result.batches, 'batch', 'batches')}.`);
    emitResult(ctx, { id: result.id, nickname: nick, dryRun: false, deleted: result.deleted, batches: result.batches });
  },
};

export default verb;
