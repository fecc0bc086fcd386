import type { VerbModule } from '../runner/verb';
import type { MfaResetResult } from '../../lib/user/reset_mfa';
import { plural } from '../../lib/text';
import { resetMfa } from '../../lib/user/reset_mfa';

/** `TOTP secret, 8 backup codes`, or `nothing (MFA was not set up)`. */
function describeRemoved(r: MfaResetResult['removed']): string {
  const parts: string[] = [];
  if (r.totpSecret) parts.push('TOTP secret');
  if (r.backupCodes > 0) parts.push(plural(r.backupCodes, 'backup code'));
  if (parts.length === 0) return r.mfaEnabled ? 'the MFA flag only (no secret or backup codes were stored)' : 'nothing (MFA was not set up)';
  return parts.join(', ');
}

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email of a local user' })
      .example('$0 user reset_mfa alice --reason "lost phone, ticket 4711"', "Disable alice's TOTP and remove her backup codes")
      .example('$0 user reset_mfa alice --dry-run', 'Show what would be removed'),
  async run(argv, ctx) {
    const result = await resetMfa(await ctx.lib(), String(argv.user), { dryRun: ctx.dryRun });
    const nick = result.nickname;
    const lines = result.dryRun
      ? [`Multi-Factor Authentication would be disabled for ${nick}${ctx.dryRunSuffix}`, `Would remove: ${describeRemoved(result.removed)}${ctx.dryRunSuffix}`]
      : [`Multi-Factor Authentication disabled for ${nick}`, `Removed: ${describeRemoved(result.removed)}`];
    ctx.result({ ...result }, lines);
  },
};

export default verb;
