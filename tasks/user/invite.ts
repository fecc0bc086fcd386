import type { VerbModule } from '../runner/verb';

import { announceMail, deliver, failIfUndelivered, type MailReport } from '../shared/mailing';
import { invitationMail } from '../../lib/mail/templates';
import * as invites from '../../lib/invites/invites';

const INSTEAD = 'pass the link above on yourself';

const verb: VerbModule = {
  builder: (y) =>
    y
      .option('expires-at', { type: 'string', describe: 'Last day the invite works, YYYY-MM-DD (UTC, inclusive), or an ISO timestamp' })
      .option('expires-in', { type: 'string', describe: 'Or how long from now: 7d, 12h, 2w' })
      .option('max-use', { type: 'string', describe: 'How many accounts it can create (makes it reusable)' })
      .option('email', { type: 'string', describe: 'Mail the invitation there; only that address can register with it' })
      .option('name', { type: 'string', describe: 'Name of the person invited, for the mail (needs --email)' })
      .option('skip-email', { type: 'boolean', describe: 'With --email: bind the invite to that address but do not mail it; only print its URL' })
      .conflicts('expires-at', 'expires-in')
      .example('$0 user invite', 'A one-time invite: prints its registration URL')
      .example('$0 user invite --max-use 10 --expires-at 2026-12-31', 'A reusable invite for 10 accounts, valid through Dec 31 (UTC)')
      .example('$0 user invite --email jane@example.com --name "Jane Doe" --expires-in 7d', 'Mail a one-week invitation to Jane')
      .example('$0 user invite --email jane@example.com --skip-email', 'An invite only jane@example.com can use, to pass on yourself'),
  async run(argv, ctx) {
    const now = ctx.now();
    // Every option here is a string one: yargs hands it over as a string (the runner refuses a repeated one).
    const str = (v: unknown): string | null => (v === undefined ? null : (v as string));
    const expiresAt = invites.resolveInviteExpiry({ expiresAt: str(argv.expiresAt), expiresIn: str(argv.expiresIn) }, now);
    const input = {
      expiresAt,
      maxUse: argv.maxUse === undefined ? null : invites.parseMaxUse(str(argv.maxUse)),
      email: str(argv.email),
      name: str(argv.name),
    };
    const plan = invites.planInvite(input, now);
    const label = invites.inviteTypeLabel(plan.type);
    // --skip-email, as on every other mailing verb: the invite keeps its address, nothing is mailed.
    const mailTo = argv.skipEmail ? null : plan.email;
    const lib = await ctx.lib();

    if (ctx.dryRun) {
      await invites.assertInviteEmailFree(lib.db, plan.email);
      ctx.result({ dryRun: true, ...plan }, [`Would generate user invite token ${label}${mailTo ? ` and mail it to ${mailTo}` : ''}${ctx.dryRunSuffix}`]);
      return;
    }

    const created = await invites.createInvite(lib, input, ctx.config);

    const reports: MailReport[] = [];
    if (mailTo) {
      reports.push(
        await deliver(ctx, 'invitation', { address: mailTo, name: plan.name }, () =>
          invitationMail({ appUrl: ctx.config.appUrl, url: created.url, name: plan.name, expiresAt: plan.expiresAt, uses: plan.maxUse ?? 1 }),
        ),
      );
    }
    // The URL is the invite: shown even with -q.
    ctx.result({ ...created.invite, token: created.token, url: created.url, mail: reports }, [`Generated user invite token ${label}`, { keep: created.url }]);
    announceMail(ctx, reports, INSTEAD);
    failIfUndelivered(reports, `Invite ${created.invite.id} was saved`, INSTEAD);
  },
};

export default verb;
