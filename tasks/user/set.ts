import type { VerbModule } from '../runner/verb';
import type { FieldChange } from '../../lib/user/set';
import type { ResultLine } from '../runner/task-context';
import { sanitizeForTerminal } from '../runner/formats';
import { setUser, checkChanges } from '../../lib/user/set';

const LABELS: Record<string, string> = {
  admin: 'Admin status',
  confirmed: 'Confirmation status',
  locked: 'Locked status',
  moderator: 'Moderator status',
  email: 'Email',
  name: 'Name',
  bio: 'Bio',
};

/** Pleroma's `Admin status of alice: true`; free text is quoted so it stays on one line. */
function line(nickname: string, f: FieldChange): string {
  const value = f.field === 'name' || f.field === 'bio' ? sanitizeForTerminal(JSON.stringify(f.to)) : String(f.to);
  return `${LABELS[f.field]} of ${nickname}: ${value}`;
}

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email of a local user' })
      .option('admin', { type: 'boolean', describe: 'Make an admin (--no-admin: take it away; refused for the last active admin)' })
      .option('confirmed', { type: 'boolean', describe: 'Mark the email confirmed (--no-confirmed: unconfirm and issue a confirmation link)' })
      .option('locked', { type: 'boolean', describe: 'Lock the account (followers need approval)' })
      .option('moderator', { type: 'boolean', describe: 'Make a moderator' })
      .option('email', { type: 'string', describe: 'New email address' })
      .option('name', { type: 'string', describe: 'New display name' })
      .option('bio', { type: 'string', describe: 'New bio' })
      .example('$0 user set alice --admin --no-locked', 'Make alice an admin and unlock her account')
      .example('$0 user set bob@example.com --no-confirmed --json', 'Unconfirm bob and print the new confirmation link as JSON'),
  async run(argv, ctx) {
    const requested = {
      admin: argv.admin as boolean | undefined,
      confirmed: argv.confirmed as boolean | undefined,
      locked: argv.locked as boolean | undefined,
      moderator: argv.moderator as boolean | undefined,
      email: argv.email as string | undefined,
      name: argv.name as string | undefined,
      bio: argv.bio as string | undefined,
    };
    checkChanges(requested); // exit 2 before the database is opened
    const result = await setUser(await ctx.lib(), String(argv.user), requested, ctx.config, { dryRun: ctx.dryRun });
    const nick = result.user.nickname;
    const lines: ResultLine[] = result.fields.map((f) => `${line(nick, f)}${ctx.dryRunSuffix}`);
    if (result.dryRun && requested.confirmed === false) lines.push(`A new email confirmation link would be issued for ${nick}${ctx.dryRunSuffix}`);
    if (result.confirmation) {
      lines.push(`Generated email confirmation token for ${nick}`);
      // The link is shown once and nowhere else: even with -q, as `new` and `send_confirmation` do.
      lines.push({ keep: `URL: ${result.confirmation.url}` });
    }
    if (!result.changed) lines.push(`Nothing changed: ${nick} already had these values`);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const f of result.fields) if (f.changed) changes[f.field] = { from: f.from, to: f.to };
    ctx.result(
      {
        id: result.user.id,
        nickname: nick,
        changed: result.changed,
        changes,
        confirmationUrl: result.confirmation?.url ?? null,
        confirmationTokensRevoked: result.revokedConfirmationTokens,
        dryRun: result.dryRun,
        user: result.user,
      },
      lines,
    );
  },
};

export default verb;
