import { writeOnce, type LibContext } from '../lib-context';
import type { Db } from '../db/schema';
import { UsageError } from '../errors';
import { normalizeTag } from '../validate';
import { writeAudit } from '../audit/audit';
import { refText, requireUser, type UserRef } from './find';

export type TagAction = 'tag' | 'untag';

export interface TagResult {
  readonly userId: number;
  readonly nickname: string;
  /** The user's tags after the change (or, in a dry run, after it would be made). */
  readonly tags: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: boolean;
  readonly dryRun: boolean;
}

/** Lower-cased, trimmed and de-duplicated; exit 2 on an empty or malformed tag. */
export function normalizeTags(tags: readonly string[]): string[] {
  if (tags.length === 0) throw new UsageError('name at least one tag');
  return [...new Set(tags.map(normalizeTag))];
}

/** Code-point order, so the stored array never depends on a database collation. */
function sortTags(tags: Iterable<string>): string[] {
  return [...tags].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * `tag` (union) and `untag` (difference) on any user, local or remote, as Pleroma does. Tags are
 * lower-cased and kept sorted and unique in the row. A missing user is exit 3 with Pleroma's
 * `Could not change user tags for X`. Nothing is written (and no audit row) when the tags are
 * already as asked.
 */
export async function changeTags(
  ctx: LibContext,
  action: TagAction,
  ref: UserRef,
  rawTags: readonly string[],
  opts: { readonly dryRun?: boolean } = {},
): Promise<TagResult> {
  const tags = normalizeTags(rawTags);
  const dryRun = Boolean(opts.dryRun);
  const work = async (db: Db): Promise<TagResult> => {
    const row = await requireUser(db, ref, { forUpdate: !dryRun }, `Could not change user tags for ${refText(ref)}`);
    const before = new Set(row.tags);
    const after = new Set(before);
    for (const t of tags) {
      if (action === 'tag') after.add(t);
      else after.delete(t);
    }
    const added = sortTags([...after].filter((t) => !before.has(t)));
    const removed = sortTags([...before].filter((t) => !after.has(t)));
    const next = sortTags(after);
    const changed = added.length > 0 || removed.length > 0;
    if (changed && !dryRun) {
      await db.updateTable('users').set({ tags: next, updated_at: ctx.now() }).where('id', '=', row.id).execute();
      await writeAudit(db, ctx, { verb: action, targetUserId: row.id, targetNickname: row.nickname, details: { added, removed, tags: next } });
    }
    return { userId: row.id, nickname: row.nickname, tags: next, added, removed, changed, dryRun };
  };
  return writeOnce(ctx, dryRun, work);
}

/** Pleroma's `inspect(user.tags)`: `["a", "b"]`. */
export function formatTags(tags: readonly string[]): string {
  return `[${tags.map((t) => JSON.stringify(t)).join(', ')}]`;
}
