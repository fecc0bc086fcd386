import type { VerbModule } from '../runner/verb';
import type { ResultLine } from '../runner/task-context';
import { passwordOptions, readPasswordOption } from '../shared/password-input';
import { announceMail, deliver, failIfUndelivered, type MailReport } from '../shared/mailing';
import { planNewUser, assertAvailable, createUser } from '../../lib/user/new';
import * as mail from '../../lib/mail/templates';
import { newUserForm, withPositionalPassword } from '../shared/positional-forms';
import { UsageError } from '../../lib/errors';
import { activeSsoMethod } from '../../lib/sso/settings';

const verb: VerbModule = {
  builder: (y) =>
    passwordOptions(
      y
        .positional('nickname', { type: 'string', describe: 'Nickname (or an email: the nickname is its local part)' })
        .positional('email', { type: 'string', describe: 'Email address' })
        .option('name', { type: 'string', describe: 'Display name (default: the nickname)' })
        .option('bio', { type: 'string', describe: 'Bio' })
        .option('moderator', { type: 'boolean', default: false, describe: 'Make the user a moderator' })
        .option('admin', { type: 'boolean', default: false, describe: 'Make the user an admin' })
        .option('confirmed', { type: 'boolean', default: true, describe: 'Mark the email confirmed (--no-confirmed issues a confirmation token)' })
        .option('skip-email', { type: 'boolean', describe: 'Do not mail the set-password or confirmation link; only print it' })
        .option('email-verified', { type: 'boolean', describe: "LibreChat's name for --confirmed" }),
    )
      .example('$0 user new alice alice@example.com --password-stdin <<< "s3cret-pass" -y', 'Create alice with a password from stdin')
      .example('$0 user new bob@example.com --admin', 'Create admin "bob" and print a set-password link')
      .example('$0 user new grace@example.com "Grace Hopper" grace -y', "LibreChat's order: email, name, username [, password]"),
  async run(argv, ctx) {
    const form = newUserForm([argv.nickname, argv.email, ...((argv.more as unknown[] | undefined) ?? [])].filter((a) => a !== undefined).map(String));
    if (form.name !== undefined && argv.name !== undefined) throw new UsageError('the name was given both as an argument and as --name: give one');
    const plan = planNewUser({
      nickname: form.nickname,
      email: form.email,
      name: form.name ?? (argv.name as string | undefined),
      bio: argv.bio as string | undefined,
      password: await readPasswordOption(withPositionalPassword(argv, form.password), ctx),
      admin: Boolean(argv.admin),
      moderator: Boolean(argv.moderator),
      confirmed: argv.confirmed !== false && argv.emailVerified !== false,
    });
    const lib = await ctx.lib();
    await assertAvailable(lib.db, plan.nickname, plan.email);
    const sso = activeSsoMethod(ctx.config.sso);
    if (sso) {
      ctx.warn(
        `Single sign-on (${sso}) is on: ${plan.nickname} cannot log in with a password; their first ${sso} login links this account by its confirmed address`,
      );
    }

    ctx.say('A user will be created with the following information:');
    ctx.say(`  - nickname: ${plan.nickname}`);
    ctx.say(`  - email: ${plan.email}`);
    ctx.say(`  - password: ${plan.password === null ? '[generated; a reset link will be created]' : '[given]'}`);
    ctx.say(`  - name: ${plan.name}`);
    ctx.say(`  - bio: ${plan.bio}`);
    ctx.say(`  - moderator: ${plan.moderator}`);
    ctx.say(`  - admin: ${plan.admin}`);
    if (ctx.dryRun) {
      ctx.result({ dryRun: true, wouldCreate: { ...plan, password: undefined } }, [`User ${plan.nickname} would be created${ctx.dryRunSuffix}`]);
      return;
    }
    await ctx.confirm('Continue? [n] ', { what: 'create the user', declined: 'User will not be created.' });

    const created = await createUser(lib, plan, ctx.config);
    const nick = created.user.nickname;
    const lines: ResultLine[] = [`User ${nick} created`];
    if (plan.moderator) lines.push(`Moderator status of ${nick}: true`);
    if (plan.admin) lines.push(`Admin status of ${nick}: true`);
    if (created.passwordReset) {
      // The link is the only way into the account: show it even with -q.
      lines.push(`Generated password reset token for ${nick}`, { keep: `URL: ${created.passwordReset.url}` });
    }
    if (created.confirmation) lines.push(`Generated email confirmation token for ${nick}`, { keep: `URL: ${created.confirmation.url}` });
    // Overleaf: with mail configured, the links go to the user as well.
    const reports: MailReport[] = [];
    if (!argv.skipEmail) {
      const to = { address: plan.email, name: plan.name };
      const about = { appUrl: ctx.config.appUrl, nickname: nick, name: plan.name };
      const { passwordReset, confirmation } = created;
      if (passwordReset)
        reports.push(
          await deliver(ctx, 'set_password', to, () => mail.setPasswordMail({ ...about, url: passwordReset.url, expiresAt: passwordReset.expiresAt })),
        );
      if (confirmation)
        reports.push(
          await deliver(ctx, 'email_confirmation', to, () => mail.confirmationMail({ ...about, url: confirmation.url, expiresAt: confirmation.expiresAt })),
        );
    }
    ctx.result(
      { ...created.user, passwordResetUrl: created.passwordReset?.url ?? null, confirmationUrl: created.confirmation?.url ?? null, mail: reports },
      lines,
    );
    const instead = `pass the link${reports.length > 1 ? 's' : ''} above to ${nick} yourself`;
    announceMail(ctx, reports, instead, nick);
    failIfUndelivered(reports, `User ${nick} was created`, instead);
  },
};

export default verb;
