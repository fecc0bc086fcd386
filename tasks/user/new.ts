import type { VerbModule } from '../runner/verb';
import { passwordOptions, readPasswordOption } from '../shared/password-input';
import { announceMail, deliver, failIfUndelivered, type MailReport } from '../shared/mailing';
import { newUserForm, withPositionalPassword } from '../shared/positional-forms';
import { UsageError } from '../../lib/errors';

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
    const { planNewUser, assertAvailable, createUser } = require('../../lib/user/new') as typeof import('../../lib/user/new');
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

    ctx.say('A user will be created with the following information:');
    ctx.say(`  - nickname: ${plan.nickname}`);
    ctx.say(`  - email: ${plan.email}`);
    ctx.say(`  - password: ${plan.password === null ? '[generated; a reset link will be created]' : '[given]'}`);
    ctx.say(`  - name: ${plan.name}`);
    ctx.say(`  - bio: ${plan.bio}`);
    ctx.say(`  - moderator: ${plan.moderator}`);
    ctx.say(`  - admin: ${plan.admin}`);
    if (ctx.dryRun) {
      ctx.say(`User ${plan.nickname} would be created (dry run)`);
      if (ctx.format !== 'table') ctx.data(require('../runner/formats').encodeObject(ctx.format, { dryRun: true, wouldCreate: { ...plan, password: undefined } }));
      return;
    }
    await ctx.confirm('Continue? [n] ', { what: 'create the user', declined: 'User will not be created.' });

    const created = await createUser(lib, plan, ctx.config);
    const nick = created.user.nickname;
    ctx.say(`User ${nick} created`);
    if (plan.moderator) ctx.say(`Moderator status of ${nick}: true`);
    if (plan.admin) ctx.say(`Admin status of ${nick}: true`);
    if (created.passwordReset) {
      ctx.say(`Generated password reset token for ${nick}`);
      // The link is the only way into the account: show it even with -q.
      if (ctx.format === 'table') ctx.io.stdout.write(`URL: ${created.passwordReset.url}\n`);
    }
    if (created.confirmation) {
      ctx.say(`Generated email confirmation token for ${nick}`);
      if (ctx.format === 'table') ctx.io.stdout.write(`URL: ${created.confirmation.url}\n`);
    }
    // Overleaf: with mail configured, the links go to the user as well.
    const reports: MailReport[] = [];
    if (!argv.skipEmail) {
      const mail = require('../../lib/mail/templates') as typeof import('../../lib/mail/templates');
      const to = { address: plan.email, name: plan.name };
      const about = { appUrl: ctx.config.appUrl, nickname: nick, name: plan.name };
      const { passwordReset, confirmation } = created;
      if (passwordReset) reports.push(await deliver(ctx, 'set_password', to, () => mail.setPasswordMail({ ...about, url: passwordReset.url, expiresAt: passwordReset.expiresAt })));
      if (confirmation) reports.push(await deliver(ctx, 'email_confirmation', to, () => mail.confirmationMail({ ...about, url: confirmation.url, expiresAt: confirmation.expiresAt })));
    }
    if (ctx.format !== 'table') {
      const { encodeObject } = require('../runner/formats') as typeof import('../runner/formats');
      ctx.data(encodeObject(ctx.format, { ...created.user, passwordResetUrl: created.passwordReset?.url ?? null, confirmationUrl: created.confirmation?.url ?? null, mail: reports }));
    }
    const instead = `pass the link${reports.length > 1 ? 's' : ''} above to ${nick} yourself`;
    announceMail(ctx, reports, instead, nick);
    failIfUndelivered(reports, `User ${nick} was created`, instead);
  },
};

export default verb;
