import type { VerbModule } from '../runner/verb';
import { UsageError } from '../../lib/errors';
import { plural } from '../../lib/text';
import { migrateDown, migrateToLatest, migrationStatus } from '../../lib/db/migrate';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('action', {
        type: 'string',
        choices: ['up', 'down', 'status', 'latest'],
        default: 'up',
        describe: 'up (to latest), down (undo the newest), status',
      })
      .example('$0 migrate', 'Apply every pending migration')
      .example('$0 migrate status', 'Which migrations ran, and when'),
  async run(argv, ctx) {
    const action = String(argv.action);
    const handle = await ctx.db('none');
    if (action === 'status') {
      const status = await migrationStatus(handle.db);
      // The listing is what was asked for: shown even with -q.
      ctx.result(
        { migrations: status },
        status.map((m) => ({ keep: `${m.executedAt ? 'applied' : 'pending'}  ${m.name}${m.executedAt ? `  ${m.executedAt.toISOString()}` : ''}` })),
      );
      return;
    }
    if (ctx.dryRun) {
      const status = await migrationStatus(handle.db);
      const pending = status.filter((m) => !m.executedAt).map((m) => m.name);
      const newest = status
        .filter((m) => m.executedAt)
        .map((m) => m.name)
        .pop();
      const line =
        action === 'down'
          ? newest
            ? `Would undo the newest migration: ${newest}`
            : 'No migration to undo'
          : `Would apply ${plural(pending.length, 'migration')}${pending.length ? `: ${pending.join(', ')}` : ''}`;
      // With --json a dry run still prints its data, as every other verb's dry run does.
      const data = action === 'down' ? { dryRun: true, wouldUndo: newest ?? null } : { dryRun: true, wouldApply: pending };
      ctx.result(data, [`${line}${ctx.dryRunSuffix}`]);
      return;
    }
    if (action === 'down') {
      await ctx.confirm('Undo the newest migration? Its tables and their data are dropped. [y/N] ', {
        what: 'undo a migration',
        declined: 'Nothing was changed.',
      });
      const name = await migrateDown(handle.db);
      ctx.result({ undone: name }, [name ? `Migrated down: ${name}` : 'No migration to undo']);
      return;
    }
    if (action !== 'up' && action !== 'latest') throw new UsageError(`unknown migrate action ${action}`);
    const applied = await migrateToLatest(handle.db);
    ctx.result({ applied }, [applied.length ? `Applied ${plural(applied.length, 'migration')}: ${applied.join(', ')}` : 'The schema is up to date']);
  },
};

export default verb;
