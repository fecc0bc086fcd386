import type { VerbModule } from '../runner/verb';
import { changeTags, formatTags, normalizeTags } from '../../lib/user/tag';

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('user', { type: 'string', describe: 'Nickname or email (local or remote user)' })
      .positional('tags', { type: 'string', array: true, describe: 'Tags to add (lower-cased)' })
      .example('$0 user tag alice pleroma Verified', 'Add the tags "pleroma" and "verified" to alice')
      .example('$0 user tag bob@example.com beta --json', 'Tag bob and print his tags as JSON'),
  async run(argv, ctx) {
    const tags = ((argv.tags as unknown[] | undefined) ?? []).map(String);
    normalizeTags(tags); // exit 2 before the database is opened
    const result = await changeTags(await ctx.lib(), 'tag', String(argv.user), tags, { dryRun: ctx.dryRun });
    ctx.result({ ...result }, [`Tags of ${result.nickname}: ${formatTags(result.tags)}${ctx.dryRunSuffix}`]);
  },
};

export default verb;
