import type { VerbModule } from '../runner/verb';
import { startProgress } from '../runner/progress';
import { batchSizingOf, batchSizeOption, sampleText } from '../shared/bulk-options';
import { plural } from '../../lib/text';
import { deactivateInstance, planDeactivateInstance } from '../../lib/user/deactivate_all_from_instance';

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(y.positional('instance', { type: 'string', describe: 'Host of the remote instance, e.g. spam.example (exact match)' }))
      .example('$0 user deactivate_all_from_instance spam.example', 'Count, ask, then deactivate every user @spam.example (not @spam.example.com)')
      .example('$0 user deactivate_all_from_instance spam.example -y --json', 'Without asking; the summary as JSON'),
  async run(argv, ctx) {
    const lib = await ctx.lib({ bulkJob: !ctx.dryRun });
    const plan = await planDeactivateInstance(lib.db, String(argv.instance));
    const { instance } = plan;
    if (plan.users === 0) {
      ctx.result({ instance, dryRun: ctx.dryRun, deactivated: 0, unfollowed: 0, revokedSessions: 0, batches: 0 }, [`No active users from ${instance}.`]);
      return;
    }
    ctx.say(`${plural(plan.users, 'active user')} from ${instance}: ${sampleText(plan.sample, plan.users)}`);
    ctx.say(`Their ${plural(plan.follows, 'follow')} with local users will be removed.`);
    if (ctx.dryRun) {
      ctx.result({ instance, dryRun: true, wouldDeactivate: plan.users, wouldUnfollow: plan.follows, sample: plan.sample }, [
        `${plural(plan.users, 'user')} from ${instance} would be deactivated${ctx.dryRunSuffix}`,
      ]);
      return;
    }
    await ctx.confirm(`Deactivate ${plural(plan.users, 'user')} from ${instance}? [y/N] `, {
      what: `deactivate the users of ${instance}`,
      declined: 'Nothing was deactivated.',
    });
    const progress = startProgress(ctx, `Deactivating users of ${instance}`, plan.users);
    let result;
    try {
      result = await deactivateInstance(lib, plan, batchSizingOf(argv, ctx), { signal: ctx.signal, onProgress: (p) => progress.update(p) });
    } finally {
      progress.stop();
    }
    ctx.result({ ...result, dryRun: false }, [
      `Deactivated ${plural(result.deactivated, 'user')} from ${instance}, removed ${plural(result.unfollowed, 'follow')} with local users, revoked ${plural(result.revokedSessions, 'session')}.`,
    ]);
  },
};

export default verb;
