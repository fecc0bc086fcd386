import type { VerbModule } from '../runner/verb';
import { changeTags, formatTags, normalizeTags } from '../../lib/user/tag';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email (local or remote user)' })
      .positional('tags', { type: 'string', array: true, describe: 'Tags to remove' })
      .example('$0 user untag alice verified', 'Remove the tag "verified" from alice')
      .example('$0 user untag alice a b --dry-run', 'Show the tags alice would keep'),
  async run(argv, ctx) {
    const tags = ((argv.tags as unknown[] | undefined) ?? []).map(String);
    normalizeTags(tags); // exit 2 before the database is opened
    const result = await changeTags(await ctx.lib(), 'untag', String(argv.user), tags, { dryRun: ctx.dryRun });
    ctx.result({ ...result }, [`Tags of ${result.nickname}: ${formatTags(result.tags)}${ctx.dryRunSuffix}`]);
  },
};

export default verb;
