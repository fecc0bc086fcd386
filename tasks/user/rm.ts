import type { VerbModule } from '../runner/verb';
import type { TaskContext } from '../runner/task-context';
import { batchSizingOf, batchSizeOption, emitResult, plural } from '../shared/bulk-options';
import { notifyAccountDeleted } from '../shared/mailing';

const day = (d: Date) => d.toISOString().slice(0, 10);

async function softDelete(ref: string, ctx: TaskContext, skipEmail: boolean): Promise<void> {
  const { planSoftDelete, softDeleteUser } = require('../../lib/user/rm') as typeof import('../../lib/user/rm');
  const lib = await ctx.lib();
  const result = ctx.dryRun ? await planSoftDelete(lib, ref, ctx.config) : await softDeleteUser(lib, ref, ctx.config);
  const nick = result.nickname;
  if (!result.changed) {
    ctx.say(`User ${nick} already deleted.`);
  } else if (ctx.dryRun) {
    ctx.say(`User ${nick} would be deleted: deactivated, ${plural(result.revokedTokens, 'token')} revoked, restorable until ${day(result.restorableUntil)} (dry run)`);
  } else {
    ctx.say(`User ${nick} deleted.`);
    ctx.say(`Restorable until ${day(result.restorableUntil)} with: ctl user restore ${nick}`);
  }
  emitResult(ctx, { ...result });
  if (result.changed && !ctx.dryRun && !skipEmail) {
    const { findUser } = require('../../lib/user/find') as typeof import('../../lib/user/find');
    const row = await findUser(lib.db, nick, { localOnly: true, includeDeleted: true });
    if (row) await notifyAccountDeleted(ctx, row, result.restorableUntil);
  }
}

async function purge(ref: string, argv: Record<string, unknown>, ctx: TaskContext): Promise<void> {
  const { planPurgeUser, purgeUser } = require('../../lib/user/purge') as typeof import('../../lib/user/purge');
  const { startProgress } = require('../runner/progress') as typeof import('../runner/progress');
  const lib = await ctx.lib();
  const plan = await planPurgeUser(lib, ref);
  const nick = plan.nickname;
  const { counts } = plan;
  ctx.say('This user and everything it owns will be deleted permanently:');
  ctx.say(`  - nickname: ${nick}`);
  ctx.say(`  - email: ${plan.email ?? ''}`);
  ctx.say(`  - id: ${plan.id}`);
  ctx.say(`  - status: ${plan.deletedAt ? `deleted on ${day(plan.deletedAt)}` : plan.active ? 'active' : 'deactivated'}${plan.admin ? ', admin' : ''}`);
  ctx.say('Rows to delete:');
  for (const [table, n] of Object.entries(counts)) ctx.say(`  ${table.padEnd(10)} ${n}`);
  if (ctx.dryRun) {
    ctx.say(`User ${nick} would be deleted with everything it owns (dry run)`);
    emitResult(ctx, { id: plan.id, nickname: nick, purge: true, dryRun: true, wouldDelete: counts });
    return;
  }
  await ctx.confirm(`Delete ${nick} and everything it owns, permanently? [y/N] `, { what: `delete ${nick} permanently`, declined: `User ${nick} will not be deleted.` });
  const progress = startProgress(ctx, `Deleting the activities of ${nick}`, counts.activities);
  let result;
  try {
    result = await purgeUser(lib, ref, { ...ctx.config, ...batchSizingOf(argv, ctx) }, {
      signal: ctx.signal,
      onProgress: (_stage, p) => progress.update(p),
      expectedActivities: counts.activities,
    });
  } finally {
    progress.stop();
  }
  ctx.say(`User ${nick} deleted.`);
  ctx.say('Deleted:');
  for (const [table, n] of Object.entries(result.deleted)) ctx.say(`  ${table.padEnd(10)} ${n}`);
  emitResult(ctx, { id: result.id, nickname: nick, purge: true, dryRun: false, deleted: result.deleted });
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
