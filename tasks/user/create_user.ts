import type { VerbModule } from '../runner/verb';
import { CtlError, PartialFailureError, UsageError } from '../../lib/errors';
import newVerbModule from './new';
import { planNewUser } from '../../lib/user/new';
import { clipInput, plural } from '../../lib/text';
import { splitAddressList } from '../../lib/validate';

/**
 * The create-user scripts of the other tools, both non-interactive (no `Continue?`): Overleaf's
 * `create-user [--admin] --email=a@x[,b@y...]` (a list creates several accounts, each with its
 * set-password link; lib/validate.ts splitAddressList is the list's rule) and LibreChat's `create-user <email> <name> <username> [password]`.
 * Each account is made exactly as `new` makes it.
 */
const verb: VerbModule = {
  builder: (y) =>
    newVerbModule
      .builder(y)
      .option('assume-yes', {
        alias: 'y',
        type: 'boolean',
        default: true,
        describe: 'Answer yes to confirmations (default here, as in Overleaf and LibreChat)',
      })
      .example('$0 user create-user --admin --email=joe@example.com', "Overleaf's form: create admin joe and print a set-password link")
      .example('$0 user create-user --email=ann@example.com,bob@example.com', 'Create several accounts at once'),
  async run(argv, ctx) {
    if (argv.nickname !== undefined) return newVerbModule.run(argv, ctx);
    if (typeof argv.email !== 'string' || argv.email.trim() === '')
      throw new UsageError('name the account: create-user --email=joe@example.com (or create-user <email> <name> <username>)');
    const emails = splitAddressList(argv.email);
    if (emails.length === 1) return newVerbModule.run({ ...argv, nickname: emails[0], email: undefined }, ctx);
    const failures: CtlError[] = [];
    for (const email of emails) {
      try {
        // An address that is not one (or gives no nickname) fails that account alone, as a taken one
        // does; a UsageError from the run itself is about the options, shared by all: it stops the run.
        planNewUser({ email });
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        failures.push(error);
        ctx.io.stderr.write(`${clipInput(email)}: ${error.message}\n`);
        continue;
      }
      try {
        await newVerbModule.run({ ...argv, nickname: email, email: undefined }, ctx);
      } catch (error) {
        if (!(error instanceof CtlError) || error instanceof UsageError) throw error;
        failures.push(error);
        ctx.io.stderr.write(`${clipInput(email)}: ${error.message}\n`);
      }
    }
    if (failures.length === 0) return;
    // A dry run created nothing: say what would have happened, not that the others were made.
    const [were, wereNot] = ctx.dryRun ? ['would be', 'would not be'] : ['were', 'were not'];
    const kinds = new Set(failures.map((f) => f.exitCode));
    if (failures.length === emails.length && kinds.size === 1) {
      // None made, all for one reason: that reason's exit code (2 invalid, 4 taken), not 7's "some done".
      const Kind = failures[0].constructor as new (message: string) => CtlError;
      throw new Kind(`none of the ${plural(emails.length, 'account')} ${ctx.dryRun ? 'would be' : 'was'} created (listed above)${ctx.dryRunSuffix}`);
    }
    throw new PartialFailureError(
      `${failures.length} of ${plural(emails.length, 'account')} ${wereNot} created (listed above); the others ${were}${ctx.dryRunSuffix}`,
    );
  },
};

export default verb;
