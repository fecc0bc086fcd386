import type { VerbModule } from '../runner/verb';

import { announceMail, deliver, failIfUndelivered } from '../shared/mailing';

const INSTEAD = 'pass the link above on yourself';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email of a local, unconfirmed user' })
      .option('skip-email', { type: 'boolean', describe: 'Only print the link; do not mail it to the user' })
      .example('$0 user send_confirmation alice', 'Mail alice a fresh email-confirmation link')
      .example('$0 user send_confirmation alice --skip-email', 'Only print a fresh link, to pass on yourself'),
  async run(argv, ctx) {
    const { createConfirmation } = require('../../lib/tokens/confirmation') as typeof import('../../lib/tokens/confirmation');
    const ref = String(argv.user);
    const lib = await ctx.lib();

    if (ctx.dryRun) {
      const { requireLocalUser } = require('../../lib/user/find') as typeof import('../../lib/user/find');
      const user = await requireLocalUser(lib.db, ref);
      if (user.confirmed) ctx.say(`${user.nickname} doesn't need confirmation.`);
      else ctx.say(`Would mail a confirmation link to ${user.email ?? '(no email address)'} for ${user.nickname} (dry run)`);
      if (ctx.format !== 'table') ctx.result({ dryRun: true, userId: user.id, nickname: user.nickname, confirmed: user.confirmed });
      return;
    }

    const issued = await createConfirmation(lib, ref, ctx.config);
    const nick = issued.user.nickname;
    if (!issued.confirmation) {
      ctx.say(`${nick} doesn't need confirmation.`);
      if (ctx.format !== 'table') ctx.result({ userId: issued.user.id, nickname: nick, confirmed: true, url: null, mail: [] });
      return;
    }
    const link = issued.confirmation;
    ctx.say(`Generated email confirmation token for ${nick}`);
    if (ctx.format === 'table') ctx.io.stdout.write(`URL: ${link.url}\n`);
    const { confirmationMail } = require('../../lib/mail/templates') as typeof import('../../lib/mail/templates');
    // --skip-email, as on every other mailing verb: the link is printed, nothing is mailed.
    const reports = argv.skipEmail
      ? []
      : [
          await deliver(ctx, 'email_confirmation', { address: issued.user.email!, name: issued.user.name }, () =>
            confirmationMail({ appUrl: ctx.config.appUrl, nickname: nick, name: issued.user.name, url: link.url, expiresAt: link.expiresAt }),
          ),
        ];
    if (ctx.format !== 'table') {
      ctx.result({ userId: issued.user.id, nickname: nick, confirmed: false, token: link.token, url: link.url, expiresAt: link.expiresAt, mail: reports });
    }
    announceMail(ctx, reports, INSTEAD, nick);
    failIfUndelivered(reports, `The confirmation link for ${nick} was saved`, INSTEAD);
  },
};

export default verb;
