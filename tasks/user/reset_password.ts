import type { VerbModule } from '../runner/verb';
import type { ResultLine } from '../runner/task-context';
import { plural } from '../../lib/text';
import { passwordOptions, readPasswordOption } from '../shared/password-input';
import { announceMail, deliver, failIfUndelivered, type MailReport } from '../shared/mailing';
import { passwordResetMail } from '../../lib/mail/templates';
import { newPassword } from '../../lib/tokens/secrets';
import { checkPassword } from '../../lib/auth/passwords';
import * as reset from '../../lib/user/reset_password';
import { withPositionalPassword } from '../shared/positional-forms';
import { UsageError } from '../../lib/errors';

const INSTEAD = 'pass the link above on yourself';

const verb: VerbModule = {
  builder: (y) =>
    passwordOptions(
      y
        .positional('user', { type: 'string', describe: 'Nickname or email of a local user' })
        .positional('new_password', { type: 'string', describe: "The new password (LibreChat's form; visible in the process table, as --password)" })
        .option('random-password', { type: 'boolean', describe: 'Set a generated password and print it once (no link)' })
        .option('skip-email', { type: 'boolean', describe: 'Only print the link; do not mail it to the user' })
        .option('keep-sessions', { type: 'boolean', describe: 'With a password set here: leave the user signed in where they are' }),
    )
      .conflicts('random-password', ['password', 'password-stdin', 'password-file'])
      .example('$0 user reset_password alice', 'Print (and, with mail configured, mail) a single-use reset link')
      .example('$0 user reset_password alice --password-stdin <<< "n3w-pass-phrase"', 'Set the password directly; signs alice out everywhere')
      .example('$0 user reset_password alice --random-password --keep-sessions', 'Set a generated password; alice stays signed in'),
  async run(argv, ctx) {
    const ref = String(argv.user);
    let password = await readPasswordOption(withPositionalPassword(argv, argv.new_password), ctx);
    if (argv.randomPassword) password = newPassword();
    const keepSessions = Boolean(argv.keepSessions);
    if (keepSessions && password === null) {
      // Using a reset link always signs the user out everywhere; there is nothing here to keep.
      throw new UsageError(
        '--keep-sessions goes with a password set here (--password-stdin, --password-file, --random-password or a new password): a reset link always signs the user out',
      );
    }
    const lib = await ctx.lib();

    if (password !== null) {
      checkPassword(password);
      if (ctx.dryRun) {
        const user = await reset.findResetTarget(lib.db, ref);
        ctx.result({ dryRun: true, userId: user.id, nickname: user.nickname }, [
          `Password of ${user.nickname} would be changed ${keepSessions ? 'and sessions kept' : 'and every session signed out'}${ctx.dryRunSuffix}`,
        ]);
        return;
      }
      const changed = await reset.setPassword(lib, ref, password, ctx.config, { keepSessions });
      const lines: ResultLine[] = [
        `Password of ${changed.nickname} changed; ${keepSessions ? 'sessions kept' : `${plural(changed.sessionsRevoked, 'session')} signed out`}`,
      ];
      // A generated password is shown exactly once, even with -q.
      if (argv.randomPassword) lines.push({ keep: `Password: ${password}` });
      ctx.result(argv.randomPassword ? { ...changed, password } : { ...changed }, lines);
      return;
    }

    if (ctx.dryRun) {
      const user = await reset.findResetTarget(lib.db, ref);
      ctx.result({ dryRun: true, userId: user.id, nickname: user.nickname }, [`Would generate password reset token for ${user.nickname}${ctx.dryRunSuffix}`]);
      return;
    }
    const issued = await reset.createPasswordReset(lib, ref, ctx.config);
    const nick = issued.user.nickname;

    const reports: MailReport[] = [];
    if (!argv.skipEmail) {
      const to = issued.user.email ? { address: issued.user.email, name: issued.user.name } : null;
      reports.push(
        await deliver(ctx, 'password_reset', to, () =>
          passwordResetMail({ appUrl: ctx.config.appUrl, nickname: nick, name: issued.user.name, url: issued.url, expiresAt: issued.expiresAt }),
        ),
      );
    }
    ctx.result({ userId: issued.user.id, nickname: nick, token: issued.token, url: issued.url, expiresAt: issued.expiresAt, mail: reports }, [
      `Generated password reset token for ${nick}`,
      { keep: `URL: ${issued.url}` },
    ]);
    announceMail(ctx, reports, INSTEAD, nick);
    failIfUndelivered(reports, `The reset link for ${nick} was saved`, INSTEAD);
  },
};

export default verb;
