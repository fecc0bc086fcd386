import type { VerbModule } from '../runner/verb';
import type { TaskContext } from '../runner/task-context';
import { startProgress } from '../runner/progress';
import { batchSizingOf, batchSizeOption, ownedCountLines } from '../shared/bulk-options';
import { plural } from '../../lib/text';
import { notifyAccountDeleted } from '../shared/mailing';
import { findUser } from '../../lib/user/find';
import { planSoftDelete, softDeleteUser } from '../../lib/user/rm';
import { planPurgeUser, purgeUser } from '../../lib/user/purge';
import { whileJobConnectionOpens } from '../../lib/bulk/lock';

const day = (d: Date) => d.toISOString().slice(0, 10);

async function softDelete(ref: string, ctx: TaskContext, skipEmail: boolean): Promise<void> {
  const lib = await ctx.lib();
  const result = ctx.dryRun ? await planSoftDelete(lib, ref, ctx.config) : await softDeleteUser(lib, ref, ctx.config);
  const nick = result.nickname;
  const lines = !result.changed
    ? [`User ${nick} already deleted.`]
    : ctx.dryRun
      ? [
          `User ${nick} would be deleted: deactivated, ${plural(result.revokedTokens, 'token')} revoked, restorable until ${day(result.restorableUntil)}${ctx.dryRunSuffix}`,
        ]
      : [`User ${nick} deleted.`, `Restorable until ${day(result.restorableUntil)} with: ctl user restore ${nick}`];
  ctx.result({ ...result }, lines);
  // The notice needs the row's email; with no mail configured there is nothing to look up.
  if (result.changed && !ctx.dryRun && !skipEmail && ctx.mailer()) {
    const row = await findUser(lib.db, nick, { localOnly: true, includeDeleted: true });
    if (row) await notifyAccountDeleted(ctx, row, result.restorableUntil);
  }
}

async function purge(ref: string, argv: Record<string, unknown>, ctx: TaskContext): Promise<void> {
  const lib = await ctx.lib({ bulkJob: !ctx.dryRun });
  // The counts are shown (not with -q) and asked about (not with -y); unseen, they are not made.
  const planning = () => planPurgeUser(lib, ref, { count: ctx.dryRun || !ctx.options.assumeYes || !ctx.options.quiet });
  const plan = await (ctx.dryRun ? planning() : whileJobConnectionOpens(lib.db, planning));
  const nick = plan.nickname;
  const { counts } = plan;
  const preview = [
    'This user and everything it owns will be deleted permanently:',
    `  - nickname: ${nick}`,
    `  - email: ${plan.email ?? ''}`,
    `  - id: ${plan.id}`,
    `  - status: ${plan.deletedAt ? `deleted on ${day(plan.deletedAt)}` : plan.active ? 'active' : 'deactivated'}${plan.admin ? ', admin' : ''}`,
    ...(counts ? ownedCountLines('Rows to delete:', counts) : []),
  ];
  if (ctx.dryRun) {
    ctx.result({ id: plan.id, nickname: nick, purge: true, dryRun: true, wouldDelete: counts }, [
      ...preview,
      `User ${nick} would be deleted with everything it owns${ctx.dryRunSuffix}`,
    ]);
    return;
  }
  for (const line of preview) ctx.say(line);
  await ctx.confirm(`Delete ${nick} and everything it owns, permanently? [y/N] `, {
    what: `delete ${nick} permanently`,
    declined: `User ${nick} will not be deleted.`,
  });
  const progress = startProgress(ctx, `Deleting the activities of ${nick}`, counts ? counts.activities : null);
  let result;
  try {
    result = await purgeUser(
      lib,
      ref,
      { ...ctx.config, ...batchSizingOf(argv, ctx) },
      {
        signal: ctx.signal,
        onProgress: (_stage, p) => progress.update(p),
        expectedActivities: counts ? counts.activities : null,
      },
    );
  } finally {
    progress.stop();
  }
  ctx.result({ id: result.id, nickname: nick, purge: true, dryRun: false, deleted: result.deleted }, [
    `User ${nick} deleted.`,
    ...ownedCountLines('Deleted:', result.deleted),
  ]);
  if (!argv.skipEmail) await notifyAccountDeleted(ctx, { nickname: nick, email: plan.email }, null);
}

const verb: VerbModule = {
  builder: (y) =>
    batchSizeOption(
      y
        .positional('user', { type: 'string', describe: 'Nickname or email of a local user' })
        .option('purge', { type: 'boolean', describe: 'Delete the account and everything it owns now, after showing the counts and asking' })
        .option('skip-email', { type: 'boolean', describe: 'Do not mail the user the account-deleted notice' }),
    )
      .example('$0 user rm alice', 'Soft delete: deactivated, signed out, hidden; restorable for $CTL_RETENTION_DAYS days')
      .example('$0 user rm alice --purge -y', 'Delete alice and all her rows now'),
  async run(argv, ctx) {
    const ref = String(argv.user);
    if (argv.purge) await purge(ref, argv, ctx);
    else await softDelete(ref, ctx, Boolean(argv.skipEmail));
  },
};

export default verb;
