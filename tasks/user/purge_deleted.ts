import type { VerbModule } from '../runner/verb';
import { UsageError } from '../../lib/errors';
import { batchSizingOf, batchSizeOption, emitResult, plural, sampleText } from '../shared/bulk-options';

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(
      y.option('older-than', { type: 'string', describe: 'Purge accounts deleted longer ago than this: 90d, 12w, 24h (default: $CTL_RETENTION_DAYS days)' }),
    )
      .example('$0 user purge_deleted -y', 'The cron job: hard-delete accounts soft-deleted more than $CTL_RETENTION_DAYS days ago')
      .example('$0 user purge_deleted --older-than 30d --dry-run', 'What a 30-day window would purge'),
  async run(argv, ctx) {
    const { parseDuration } = require('../../lib/config') as typeof import('../../lib/config');
    const { planPurgeDeleted, purgeDeleted, purgeCutoff } = require('../../lib/user/purge') as typeof import('../../lib/user/purge');
    const { startProgress } = require('../runner/progress') as typeof import('../runner/progress');
    let olderThanMs: number | null = null;
    if (argv.olderThan !== undefined) {
      olderThanMs = parseDuration(String(argv.olderThan));
      if (olderThanMs === null) throw new UsageError(`invalid --older-than ${JSON.stringify(String(argv.olderThan))}: expected a duration like 90d, 12w or 24h`);
    }
    const lib = await ctx.lib();
    const cutoff = purgeCutoff(ctx.now(), ctx.config, olderThanMs);
    const plan = await planPurgeDeleted(lib, cutoff);
    const { counts } = plan;
    const before = cutoff.toISOString();
    if (counts.users === 0) {
      ctx.say(`No account deleted before ${before} to purge.`);
      emitResult(ctx, { cutoff, dryRun: ctx.dryRun, deleted: counts, batches: 0 });
      return;
    }
    ctx.say(`${plural(counts.users, 'account')} deleted before ${before} will be purged: ${sampleText(plan.sample, counts.users)}`);
    ctx.say('Rows to delete:');
    for (const [table, n] of Object.entries(counts)) ctx.say(`  ${table.padEnd(10)} ${n}`);
    if (ctx.dryRun) {
      ctx.say(`${plural(counts.users, 'account')} would be purged (dry run)`);
      emitResult(ctx, { cutoff, dryRun: true, wouldDelete: counts, sample: plan.sample });
      return;
    }
    await ctx.confirm(`Purge ${plural(counts.users, 'account')} and everything they own, permanently? [y/N] `, { what: 'purge deleted accounts', declined: 'Nothing was purged.' });
    const progress = startProgress(ctx, 'Purging deleted accounts', counts.activities + counts.users);
    let offset = 0;
    let result;
    try {
      result = await purgeDeleted(lib, cutoff, batchSizingOf(argv, ctx), {
        signal: ctx.signal,
        onProgress: (stage, p) => {
          if (stage === 'activities') offset = p.done;
          progress.update({ ...p, done: stage === 'activities' ? p.done : offset + p.done, total: counts.activities + counts.users });
        },
      });
    } finally {
      progress.stop();
    }
    ctx.say(`Purged ${plural(result.deleted.users, 'account')} deleted before ${before}.`);
    ctx.say('Deleted:');
    for (const [table, n] of Object.entries(result.deleted)) ctx.say(`  ${table.padEnd(10)} ${n}`);
    emitResult(ctx, { cutoff, dryRun: false, deleted: result.deleted, batches: result.batches });
  },
};

export default verb;
