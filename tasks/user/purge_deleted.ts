import type { VerbModule } from '../runner/verb';
import { startProgress } from '../runner/progress';
import { batchSizingOf, batchSizeOption, sampleText, ownedCountLines } from '../shared/bulk-options';
import { plural } from '../../lib/text';
import { UsageError } from '../../lib/errors';
import { parseDuration } from '../../lib/config';
import { planPurgeDeleted, purgeCutoff, purgeDeleted } from '../../lib/user/purge';
import { quoteInput } from '../../lib/text';

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(
      y.option('older-than', { type: 'string', describe: 'Purge accounts deleted longer ago than this: 90d, 12w, 24h (default: $CTL_RETENTION_DAYS days)' }),
    )
      .example('$0 user purge_deleted -y', 'The cron job: hard-delete accounts soft-deleted more than $CTL_RETENTION_DAYS days ago')
      .example('$0 user purge_deleted --older-than 30d --dry-run', 'What a 30-day window would purge'),
  async run(argv, ctx) {
    let olderThanMs: number | null = null;
    const olderThan = argv.olderThan as string | undefined;
    if (olderThan !== undefined) {
      olderThanMs = parseDuration(olderThan);
      if (olderThanMs === null) throw new UsageError(`invalid --older-than ${quoteInput(olderThan)}: expected a duration like 90d, 12w or 24h`);
    }
    const lib = await ctx.lib({ bulkJob: !ctx.dryRun });
    const cutoff = purgeCutoff(ctx.now(), ctx.config, olderThanMs);
    const plan = await planPurgeDeleted(lib, cutoff);
    const { counts } = plan;
    const before = cutoff.toISOString();
    if (counts.users === 0) {
      ctx.result({ cutoff, dryRun: ctx.dryRun, deleted: counts, batches: 0 }, [`No account deleted before ${before} to purge.`]);
      return;
    }
    const preview = [
      `${plural(counts.users, 'account')} deleted before ${before} will be purged: ${sampleText(plan.sample, counts.users)}`,
      ...ownedCountLines('Rows to delete:', counts),
    ];
    if (ctx.dryRun) {
      ctx.result({ cutoff, dryRun: true, wouldDelete: counts, sample: plan.sample }, [
        ...preview,
        `${plural(counts.users, 'account')} would be purged${ctx.dryRunSuffix}`,
      ]);
      return;
    }
    for (const line of preview) ctx.say(line);
    await ctx.confirm(`Purge ${plural(counts.users, 'account')} and everything they own, permanently? [y/N] `, {
      what: 'purge deleted accounts',
      declined: 'Nothing was purged.',
    });
    const progress = startProgress(ctx, 'Purging deleted accounts', counts.activities + counts.users);
    let offset = 0;
    let result;
    try {
      result = await purgeDeleted(lib, cutoff, batchSizingOf(argv, ctx), {
        signal: ctx.signal,
        expectedActivities: counts.activities,
        expectedUsers: counts.users,
        onProgress: (stage, p) => {
          if (stage === 'activities') offset = p.done;
          progress.update({ ...p, done: stage === 'activities' ? p.done : offset + p.done, total: counts.activities + counts.users });
        },
      });
    } finally {
      progress.stop();
    }
    ctx.result({ cutoff, dryRun: false, deleted: result.deleted, batches: result.batches }, [
      `Purged ${plural(result.deleted.users, 'account')} deleted before ${before}.`,
      ...ownedCountLines('Deleted:', result.deleted),
    ]);
  },
};

export default verb;
