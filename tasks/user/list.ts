import type { VerbModule } from '../runner/verb';
import type { UserJson } from '../../lib/user/present';
import type { Column } from '../runner/formats';
import { writeRows } from '../runner/render';
import { parseWholeNumber, wholeNumberCheck } from '../shared/number-options';
import { exportUsers, listUsers, LIST_PAGE_SIZE, type UserFilter } from '../../lib/user/list';
import { timestampAsDriverReadsIt } from '../../lib/db/copy-text';
import { normalizeTag } from '../../lib/validate';
import { exportFieldPages, writeUserExport } from '../shared/user-export';
import { writePleromaUserLines } from '../shared/pleroma-lines';

function roles(u: UserJson): string {
  return [u.admin && 'admin', u.moderator && 'moderator'].filter(Boolean).join(',') || '-';
}

function status(u: UserJson): string {
  if (u.deleted) return 'deleted';
  return u.active ? 'active' : 'deactivated';
}

/** A valid Date as the text JSON.stringify (and CSV) gives it; anything else as it is. */
function iso<T>(value: T | Date): T | string {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : (value as T);
}

/**
 * The row for json/ndjson/csv on the row path: the same fields and the same text, with the dates
 * already ISO strings. Every format now streams from COPY (tasks/shared/user-export.ts); this
 * stays as the reference their output is tested against, byte for byte.
 */
export function toJson(u: UserJson): unknown {
  return { ...u, deletedAt: iso(u.deletedAt), createdAt: iso(u.createdAt), updatedAt: iso(u.updatedAt), lastLoginAt: iso(u.lastLoginAt) };
}

/** The table's columns on the row path: kept as the reference the COPY path is tested against. */
export const COLUMNS: readonly Column<UserJson>[] = [
  { header: 'nickname', value: (u) => u.nickname, flexible: true },
  { header: 'email', value: (u) => u.email, flexible: true },
  { header: 'name', value: (u) => u.name, flexible: true },
  { header: 'roles', value: roles },
  { header: 'status', value: status },
  { header: 'confirmed', value: (u) => (u.confirmed ? 'yes' : 'no') },
  { header: 'created', value: (u) => u.createdAt.toISOString().slice(0, 10) },
];

/**
 * The same columns over an export line's fields (lib/user/present.ts USER_COLUMNS order): the table
 * streams from COPY too, without a UserJson per row. The timestamps are UTC, DateStyle ISO.
 */
const FIELD_COLUMNS: readonly Column<(string | null)[]>[] = [
  { header: 'nickname', value: (f) => f[1], flexible: true },
  { header: 'email', value: (f) => f[2], flexible: true },
  { header: 'name', value: (f) => f[3], flexible: true },
  { header: 'roles', value: (f) => [f[6] === 't' && 'admin', f[7] === 't' && 'moderator'].filter(Boolean).join(',') || '-' },
  { header: 'status', value: (f) => (f[11] !== null ? 'deleted' : f[10] === 't' ? 'active' : 'deactivated') },
  { header: 'confirmed', value: (f) => (f[9] === 't' ? 'yes' : 'no') },
  { header: 'created', value: (f) => createdDay(f[14] as string) },
];

/** The UTC day of a timestamp as the row path printed it (toISOString's first ten characters). */
function createdDay(timestamp: string): string {
  if (/^\d{4}-\d\d-\d\d /.test(timestamp)) return timestamp.slice(0, 10);
  const value = timestampAsDriverReadsIt(timestamp);
  return value instanceof Date ? value.toISOString().slice(0, 10) : String(value);
}

const verb: VerbModule = {
  builder: (y) =>
    y
      .option('admin', { type: 'boolean', describe: 'Only admins (--no-admin: only non-admins)' })
      .option('moderator', { type: 'boolean', describe: 'Only moderators' })
      .option('active', { type: 'boolean', describe: 'Only active users' })
      .option('deactivated', { type: 'boolean', describe: 'Only deactivated users' })
      .option('confirmed', { type: 'boolean', describe: 'Only confirmed users' })
      .option('unconfirmed', { type: 'boolean', describe: 'Only unconfirmed users' })
      .option('local', { type: 'boolean', describe: 'Only local users (the default)' })
      .option('remote', { type: 'boolean', describe: 'Only remote users' })
      .option('all', { type: 'boolean', describe: 'Local and remote users' })
      .option('tag', { type: 'string', describe: 'Only users with this tag' })
      .option('deleted', { type: 'boolean', describe: 'Only soft-deleted users' })
      .option('search', { type: 'string', describe: 'Substring of nickname, email or name' })
      .option('provider', { type: 'string', choices: ['local', 'ldap', 'oidc', 'saml'], describe: 'Only users who sign in this way (local: a password here)' })
      .option('limit', { type: 'string', describe: 'At most this many rows' })
      .check(wholeNumberCheck('limit'))
      .option('pleroma', { type: 'boolean', describe: "Pleroma's lines (nickname moderator: …, is_active: …), for runbooks that grep them" })
      .conflicts('pleroma', ['format', 'json'])
      .conflicts('active', 'deactivated')
      .conflicts('confirmed', 'unconfirmed')
      .conflicts('local', 'remote')
      .example('$0 user list --admin', 'Every local admin')
      .example('$0 user list --format ndjson > users.ndjson', 'Export every local user')
      .example('$0 user list --provider ldap', 'Users who sign in through LDAP'),
  async run(argv, ctx) {
    const { db } = await ctx.db();
    const pick = (yes: unknown, no: unknown): boolean | undefined => (yes === true || no === false ? true : yes === false || no === true ? false : undefined);
    const filter: UserFilter = {
      admin: argv.admin as boolean | undefined,
      moderator: argv.moderator as boolean | undefined,
      active: pick(argv.active, argv.deactivated),
      confirmed: pick(argv.confirmed, argv.unconfirmed),
      local: argv.all ? null : (pick(argv.local, argv.remote) ?? true),
      // The tag rule of `tag`/`untag` (trimmed, lower-cased, no spaces or commas): an impossible
      // tag is exit 2, as there, not an empty listing that looks like an answer.
      tag: argv.tag === undefined ? undefined : normalizeTag(argv.tag as string),
      deleted: Boolean(argv.deleted),
      search: argv.search as string | undefined,
      provider: argv.provider as UserFilter['provider'],
      limit: parseWholeNumber(argv.limit, 'limit'),
    };
    // Every format streams from the server's COPY; only Pleroma's lines keep the row path.
    if (argv.pleroma) return writePleromaUserLines(ctx, listUsers(db, filter));
    if (ctx.format === 'table') {
      await writeRows(ctx, exportFieldPages(exportUsers(db, filter), LIST_PAGE_SIZE), FIELD_COLUMNS);
      return;
    }
    await writeUserExport(ctx, exportUsers(db, filter), ctx.format);
  },
};

export default verb;
