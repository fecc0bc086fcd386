import type { VerbModule } from '../runner/verb';
import { startProgress } from '../runner/progress';
import { batchSizingOf, batchSizeOption } from '../shared/bulk-options';
import { plural } from '../../lib/text';
import { deleteActivities, planDeleteActivities } from '../../lib/user/delete_activities';
import { whileJobConnectionOpens } from '../../lib/bulk/lock';

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(y.positional('user', { type: 'string', describe: 'Nickname or email of a local user' }))
      .example('$0 user delete_activities alice', 'Count her posts and interactions, ask, then delete them in batches')
      .example('$0 user delete_activities alice -y --batch-size 1000', 'Without asking, 1000 rows per transaction'),
  async run(argv, ctx) {
    const lib = await ctx.lib({ bulkJob: !ctx.dryRun });
    // The count is shown (dry run), asked about (no -y) or the progress total (no -q); else unread.
    const count = ctx.dryRun || !ctx.options.assumeYes || !ctx.options.quiet;
    const planning = () => planDeleteActivities(lib, String(argv.user), { count });
    const plan = await (ctx.dryRun ? planning() : whileJobConnectionOpens(lib.db, planning));
    const nick = plan.nickname;
    const activities = plan.activities ?? 0;
    if (ctx.dryRun) {
      ctx.result({ id: plan.id, nickname: nick, dryRun: true, wouldDelete: activities }, [
        `${plural(activities, 'activity', 'activities')} of ${nick} would be deleted${ctx.dryRunSuffix}`,
      ]);
      return;
    }
    if (activities > 0) {
      await ctx.confirm(`Delete ${plural(activities, 'activity', 'activities')} (posts and interactions) of ${nick}? [y/N] `, {
        // Said in the refusal too: from cron (no terminal) the question is never seen.
        what: `delete ${plural(activities, 'activity', 'activities')} of ${nick}`,
        declined: 'Nothing was deleted.',
      });
    }
    const progress = startProgress(ctx, `Deleting the activities of ${nick}`, plan.activities);
    let result;
    try {
      result = await deleteActivities(lib, plan, batchSizingOf(argv, ctx), { signal: ctx.signal, onProgress: (p) => progress.update(p) });
    } finally {
      progress.stop();
    }
    ctx.result({ id: result.id, nickname: nick, dryRun: false, deleted: result.deleted, batches: result.batches }, [
      `User ${nick} statuses deleted.`,
      `Deleted ${plural(result.deleted, 'activity', 'activities')} in ${plural(result.batches, 'batch', 'batches')}.`,
    ]);
  },
};

export default verb;
