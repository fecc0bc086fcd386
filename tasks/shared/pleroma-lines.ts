import type { TaskContext } from '../runner/task-context';
import type { InviteJson } from '../../lib/invites/invites';
import { sanitizeForTerminal } from '../runner/formats';

/**
 * Pleroma's own lines for `list` and `invites` (`--pleroma`), for runbooks that grep them. The
 * tables, JSON, NDJSON and CSV stay the default; these are an explicit choice, not guessed from a
 * pipe, so `ctl user list | grep` on a documented table keeps working as before.
 */
interface PleromaUser {
  readonly nickname: string;
  readonly moderator: boolean;
  readonly admin: boolean;
  readonly locked: boolean;
  readonly active: boolean;
}

/** `alice moderator: false, admin: true, locked: false, is_active: true`, one user a line. */
export async function writePleromaUserLines(ctx: TaskContext, pages: AsyncIterable<readonly PleromaUser[]>): Promise<void> {
  for await (const page of pages) {
    const text = page
      .map((u) => `${sanitizeForTerminal(u.nickname)} moderator: ${u.moderator}, admin: ${u.admin}, locked: ${u.locked}, is_active: ${u.active}\n`)
      .join('');
    if (!ctx.io.stdout.write(text)) await new Promise((resolve) => ctx.io.stdout.once('drain', resolve));
  }
}

/**
 * `Invites list:` then `ID: 1 | Token: Wq1c… | Token type: one_time | Used: false | Expires at: nil |
 * Uses: 0 | Max use: nil`. Tokens are stored only as hashes: the token is its first characters.
 */
export function writePleromaInviteLines(ctx: TaskContext, invites: readonly InviteJson[]): void {
  const nil = (v: string | number | boolean | null | undefined) => (v === null || v === undefined ? 'nil' : String(v));
  ctx.io.stdout.write('Invites list:\n');
  for (const i of invites) {
    ctx.io.stdout.write(
      `ID: ${i.id} | Token: ${i.tokenPrefix}… | Token type: ${i.type} | Used: ${i.used} | Expires at: ${nil(i.expiresAt)} | Uses: ${i.uses} | Max use: ${nil(i.maxUse)}\n`,
    );
  }
}
