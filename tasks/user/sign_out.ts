import type { VerbModule } from '../runner/verb';
import { plural } from '../../lib/text';
import { signOutUser } from '../../lib/user/sign_out';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email of a local user' })
      .example('$0 user sign_out alice', 'Revoke every session, access/refresh token and authorization of alice'),
  async run(argv, ctx) {
    const lib = await ctx.lib();
    const result = await signOutUser(lib, String(argv.user), { dryRun: ctx.dryRun });
    const nick = result.nickname;
    const { access, refresh, authorization } = result.revoked;
    const detail = `access ${access}, refresh ${refresh}, authorization ${authorization}`;
    const lines = ctx.dryRun
      ? [`${nick} would be signed out from all apps: ${plural(result.total, 'token')} would be revoked (${detail})${ctx.dryRunSuffix}`]
      : [`${nick} signed out from all apps.`, `Revoked ${plural(result.total, 'token')} (${detail}).`];
    ctx.result({ ...result }, lines);
  },
};

export default verb;
