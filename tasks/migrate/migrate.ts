import type { VerbModule } from '../runner/verb';
import { UsageError } from '../../lib/errors';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('action', { type: 'string', choices: ['up', 'down', 'status', 'latest'], default: 'up', describe: 'up (to latest), down (undo the newest), status' })
      .example('$0 migrate', 'Apply every pending migration')
      .example('$0 migrate status', 'Which migrations ran, and when'),
  async run(argv, ctx) {
    const { migrateDown, migrateToLatest, migrationStatus } = require('../../lib/db/migrate') as typeof import('../../lib/db/migrate');
    const action = String(argv.action);
    const handle = await ctx.db('none');
    if (action === 'status') {
      const status = await migrationStatus(handle.db);
      if (ctx.format !== 'table') {
        ctx.data(require('../runner/formats').encodeObject(ctx.format, { migrations: status }));
        return;
      }
      for (const m of status) ctx.io.stdout.write(`${m.executedAt ? 'applied' : 'pending'}  ${m.name}${m.executedAt ? `  ${m.executedAt.toISOString()}` : ''}\n`);
      return;
    }
    if (ctx.dryRun) {
      const status = await migrationStatus(handle.db);
      const pending = status.filter((m) => !m.executedAt).map((m) => m.name);
      const newest = status.filter((m) => m.executedAt).map((m) => m.name).pop();
      if (action === 'down') ctx.say(newest ? `Would undo the newest migration: ${newest} (dry run)` : 'No migration to undo (dry run)');
      else ctx.say(`Would apply ${pending.length} migration(s)${pending.length ? `: ${pending.join(', ')}` : ''} (dry run)`);
      return;
    }
    if (action === 'down') {
      await ctx.confirm('Undo the newest migration? Its tables and their data are dropped. [y/N] ', { what: 'undo a migration', declined: 'Nothing was changed.' });
      const name = await migrateDown(handle.db);
      ctx.say(name ? `Migrated down: ${name}` : 'No migration to undo');
      if (ctx.format !== 'table') ctx.data(require('../runner/formats').encodeObject(ctx.format, { undone: name }));
      return;
    }
    if (action !== 'up' && action !== 'latest') throw new UsageError(`unknown migrate action ${action}`);
    const applied = await migrateToLatest(handle.db);
    ctx.say(applied.length ? `Applied ${applied.length} migration(s): ${applied.join(', ')}` : 'The schema is up to date');
    if (ctx.format !== 'table') ctx.data(require('../runner/formats').encodeObject(ctx.format, { applied }));
  },
};

export default verb;
