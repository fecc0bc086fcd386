import type { VerbModule } from '../runner/verb';
import { UsageError } from '../../lib/errors';
import rmVerbModule from './rm';

/**
 * The delete-user scripts of the other tools: Overleaf's `delete-user --email=joe@example.com
 * [--skip-email]` and LibreChat's `delete-user <email>`. Both are `rm` (a soft delete; `--purge`
 * deletes everything now), with its messages and exit codes.
 */
const verb: VerbModule = {
  builder: (y) =>
    rmVerbModule
      .builder(y)
      .option('email', { type: 'string', describe: "The user's email (Overleaf's form)" })
      .example('$0 user delete-user --email=joe@example.com --skip-email', "Overleaf's form: delete joe without mailing him"),
  async run(argv, ctx) {
    if (argv.user !== undefined && argv.email !== undefined) throw new UsageError('give the user once: delete-user <email> or delete-user --email=<email>');
    const user = argv.user ?? argv.email;
    if (typeof user !== 'string' || user === '') throw new UsageError('name the user: delete-user --email=joe@example.com');
    return rmVerbModule.run({ ...argv, user }, ctx);
  },
};

export default verb;
