import type { VerbModule } from '../runner/verb';

import { announceMail, deliver, failIfUndelivered } from '../shared/mailing';
import { createConfirmation } from '../../lib/tokens/confirmation';
import { requireLocalUser } from '../../lib/user/find';
import { confirmationMail } from '../../lib/mail/templates';

const INSTEAD = 'pass the link above on yourself';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email of a local, unconfirmed user' })
      .option('skip-email', { type: 'boolean', describe: 'Only print the link; do not mail it to the user' })
      .example('$0 user send_confirmation alice', 'Mail alice a fresh email-confirmation link')
      .example('$0 user send_confirmation alice --skip-email', 'Only print a fresh link, to pass on yourself'),
  async run(argv, ctx) {
    const ref = String(argv.user);
    const lib = await ctx.lib();

    if (ctx.dryRun) {
      const user = await requireLocalUser(lib.db, ref);
      const line = user.confirmed
        ? `${user.nickname} doesn't need confirmation.`
        : `Would mail a confirmation link to ${user.email ?? '(no email address)'} for ${user.nickname}${ctx.dryRunSuffix}`;
      ctx.result({ dryRun: true, userId: user.id, nickname: user.nickname, confirmed: user.confirmed }, [line]);
      return;
    }

    const issued = await createConfirmation(lib, ref, ctx.config);
    const nick = issued.user.nickname;
    if (!issued.confirmation) {
      ctx.result({ userId: issued.user.id, nickname: nick, confirmed: true, url: null, mail: [] }, [`${nick} doesn't need confirmation.`]);
      return;
    }
    const link = issued.confirmation;
    // --skip-email, as on every other mailing verb: the link is printed, nothing is mailed.
    const reports = argv.skipEmail
      ? []
      : [
          await deliver(ctx, 'email_confirmation', { address: issued.user.email!, name: issued.user.name }, () =>
            confirmationMail({ appUrl: ctx.config.appUrl, nickname: nick, name: issued.user.name, url: link.url, expiresAt: link.expiresAt }),
          ),
        ];
    ctx.result({ userId: issued.user.id, nickname: nick, confirmed: false, token: link.token, url: link.url, expiresAt: link.expiresAt, mail: reports }, [
      `Generated email confirmation token for ${nick}`,
      { keep: `URL: ${link.url}` },
    ]);
    announceMail(ctx, reports, INSTEAD, nick);
    failIfUndelivered(reports, `The confirmation link for ${nick} was saved`, INSTEAD);
  },
};

export default verb;
