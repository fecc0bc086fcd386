import type { VerbModule } from '../runner/verb';
import type { AuditRecord } from '../../lib/audit/audit';
import type { Column } from '../runner/formats';
import { UsageError } from '../../lib/errors';
import { parseWholeNumber, wholeNumberCheck } from '../shared/number-options';
import { writeRows } from '../runner/render';
import { parseSince } from '../../lib/dates';
import { AUDIT_RECORD_KEYS, auditPages } from '../../lib/audit/audit';
import { findUser } from '../../lib/user/find';

const COLUMNS: readonly Column<AuditRecord>[] = [
  { header: 'at', value: (r) => r.at.toISOString().replace(/\.\d{3}Z$/, 'Z') },
  { header: 'actor', value: (r) => r.actor },
  { header: 'verb', value: (r) => r.verb },
  { header: 'user', value: (r) => r.targetNickname ?? (r.targetUserId === null ? '-' : `#${r.targetUserId}`) },
  { header: 'reason', value: (r) => r.reason ?? '', flexible: true },
  { header: 'details', value: (r) => r.details, flexible: true },
];

const verb: VerbModule = {
  builder: (y) =>
    y
      .positional('action', { type: 'string', choices: ['list'], describe: 'list: print audit rows, oldest first' })
      .option('user', { type: 'string', describe: 'Only rows about this user (nickname or email; a purged nickname works too)' })
      .option('verb', { type: 'string', describe: 'Only this verb (set, tag, confirm_all, ...)' })
      .option('since', { type: 'string', describe: 'Only rows since a day (2024-05-01), an ISO timestamp, or a duration back from now (7d, 12h)' })
      .option('limit', { type: 'string', describe: 'Only the newest N matching rows' })
      .check(wholeNumberCheck('limit'))
      .example('$0 audit list --user alice --since 7d', 'What was done to alice this week, by whom and why')
      .example('$0 audit list --verb set --limit 20 --format ndjson', 'The last 20 set changes as NDJSON'),
  async run(argv, ctx) {
    if (argv.action !== 'list') throw new UsageError(`unknown audit action ${String(argv.action)}: use list`);
    const since = argv.since === undefined ? undefined : parseSince(argv.since as string, '--since', ctx.now());
    const verbName = argv.verb === undefined ? undefined : (argv.verb as string).replace(/-/g, '_');
    const { db } = await ctx.db();
    let userId: number | undefined;
    let nickname: string | undefined;
    if (argv.user !== undefined) {
      const ref = argv.user as string;
      const user = await findUser(db, ref, { includeDeleted: true });
      userId = user?.id;
      // The audit trail outlives accounts: a purged user is still found by the nickname kept in its rows.
      nickname = user?.nickname ?? ref;
    }
    const pages = auditPages(db, { userId, nickname, verb: verbName, since, limit: parseWholeNumber(argv.limit, 'limit') });
    await writeRows(ctx, pages, COLUMNS, (r) => r, AUDIT_RECORD_KEYS);
  },
};

export default verb;
