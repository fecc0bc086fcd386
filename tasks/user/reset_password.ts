import type { VerbModule } from '../runner/verb';

import { passwordOptions, readPasswordOption } from '../shared/password-input';
import { announceMail, deliver, failIfUndelivered, type MailReport } from '../shared/mailing';
import { withPositionalPassword } from '../shared/positional-forms';

const INSTEAD = 'pass the link above on yourself';

const verb: VerbModule = {
  builder: (y) =>
    passwordOptions(
      y
        .positional('user', { type: 'string', describe: 'Nickname or email of a local user' })
        .positional('new_password', { type: 'string', describe: 'The new password (LibreChat\'s form; visible in the process table, as --password)' })
        .option('random-password', { type: 'boolean', describe: 'Set a generated password and print it once (no link)' })
        .option('skip-email', { type: 'boolean', describe: 'Only print the link; do not mail it to the user' }),
    )
      .conflicts('random-password', ['password', 'password-stdin', 'password-file'])
      .example('$0 user reset_password alice', 'Print (and, with mail configured, mail) a single-use reset link')
      .example('$0 user reset_password alice --password-stdin <<< "n3w-pass-phrase"', 'Set the password directly; signs alice out everywhere'),
  async run(argv, ctx) {
    const reset = require('../../lib/user/reset_password') as typeof import('../../lib/user/reset_password');
    const ref = String(argv.user);
    let password = await readPasswordOption(withPositionalPassword(argv, argv.new_password), ctx);
    if (argv.randomPassword) password = (require('../../lib/tokens/secrets') as typeof import('../../lib/tokens/secrets')).newPassword();
    const lib = await ctx.lib();

    if (password !== null) {
      (require('../../lib/auth/passwords') as typeof import('../../lib/auth/passwords')).checkPassword(password);
      if (ctx.dryRun) {
        const user = await reset.findResetTarget(lib.db, ref);
        ctx.say(`Password of ${user.nickname} would be changed and every session signed out (dry run)`);
        if (ctx.format !== 'table') ctx.result({ dryRun: true, userId: user.id, nickname: user.nickname });
        return;
      }
      const changed = await reset.setPassword(lib, ref, password, ctx.config);
      ctx.say(`Password of ${changed.nickname} changed; ${changed.sessionsRevoked} session(s) signed out`);
      if (ctx.format === 'table') {
        // A generated password is shown exactly once, even with -q.
        if (argv.randomPassword) ctx.io.stdout.write(`Password: ${password}\n`);
      } else {
        ctx.result(argv.randomPassword ? { ...changed, password } : { ...changed });
      }
      return;
    }

    if (ctx.dryRun) {
      const user = await reset.findResetTarget(lib.db, ref);
      ctx.say(`Would generate password reset token for ${user.nickname} (dry run)`);
      if (ctx.format !== 'table') ctx.result({ dryRun: true, userId: user.id, nickname: user.nickname });
      return;
    }
    const issued = await reset.createPasswordReset(lib, ref, ctx.config);
    const nick = issued.user.nickname;
    ctx.say(`Generated password reset token for ${nick}`);
    if (ctx.format === 'table') ctx.io.stdout.write(`URL: ${issued.url}\n`);

    const reports: MailReport[] = [];
    if (!argv.skipEmail) {
      const { passwordResetMail } = require('../../lib/mail/templates') as typeof import('../../lib/mail/templates');
      const to = issued.user.email ? { address: issued.user.email, name: issued.user.name } : null;
      reports.push(
        await deliver(ctx, 'password_reset', to, () =>
          passwordResetMail({ appUrl: ctx.config.appUrl, nickname: nick, name: issued.user.name, url: issued.url, expiresAt: issued.expiresAt }),
        ),
      );
    }
    if (ctx.format !== 'table') {
      ctx.result({ userId: issued.user.id, nickname: nick, token: issued.token, url: issued.url, expiresAt: issued.expiresAt, mail: reports });
    }
    announceMail(ctx, reports, INSTEAD, nick);
    failIfUndelivered(reports, `The reset link for ${nick} was saved`, INSTEAD);
  },
};

export default verb;
