import type { VerbModule } from '../runner/verb';
import { findInvite, revokeInvite } from '../../lib/invites/invites';
import { clipInput } from '../../lib/text';

/** The token from a pasted registration URL, else the argument as given. */
function tokenOf(arg: string): string {
  const match = /\/registration\/([A-Za-z0-9_-]+)\/?$/.exec(arg);
  return match ? match[1] : arg;
}

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('token', { type: 'string', describe: 'The invite token (or its registration URL), or its id from `ctl user invites`' })
      .example('$0 user revoke_invite 3', 'Revoke invite 3 (ids are listed by `ctl user invites`)')
      .example('$0 user revoke_invite "$TOKEN"', 'Revoke by the whole token `invite` printed (`invites` shows only its start: use the id)'),
  async run(argv, ctx) {
    const arg = String(argv.token);
    const key = tokenOf(arg);
    const subject = /^\d{1,15}$/.test(key) ? `Invite ${key}` : `Invite for token ${clipInput(arg)}`;
    const lib = await ctx.lib();
    if (ctx.dryRun) {
      const invite = await findInvite(lib.db, key, ctx.now());
      ctx.result({ dryRun: true, ...invite, alreadyRevoked: invite.revokedAt !== null }, [
        invite.revokedAt ? `${subject} was already revoked.` : `${subject} would be revoked${ctx.dryRunSuffix}`,
      ]);
      return;
    }
    const { invite, alreadyRevoked } = await revokeInvite(lib, key);
    ctx.result({ ...invite, alreadyRevoked }, [alreadyRevoked ? `${subject} was already revoked.` : `${subject} was revoked.`]);
  },
};

export default verb;
