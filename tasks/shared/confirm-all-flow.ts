import type { TaskContext } from '../runner/task-context';
import { startProgress, type Progress } from '../runner/progress';
import { bulkConfirm, type BulkConfirmVerb } from '../../lib/user/confirm_all';
import { batchSizingOf } from './bulk-options';
import { plural } from '../../lib/text';

const users = (n: number) => plural(n, 'user');
const batches = (n: number) => plural(n, 'batch', 'batches');

const WORDS = {
  confirm_all: {
    state: 'unconfirmed',
    question: 'Confirm them all? [y/N] ',
    what: 'confirm every regular user',
    declined: 'No user was confirmed.',
    none: 'No user needs confirmation.',
    wouldDo: 'would be confirmed',
    done: 'Confirmed',
    label: 'confirm_all',
  },
  unconfirm_all: {
    state: 'confirmed',
    question: 'Unconfirm them all and issue email confirmation tokens? [y/N] ',
    what: 'unconfirm every regular user',
    declined: 'No user was unconfirmed.',
    none: 'No user to unconfirm.',
    wouldDo: 'would be unconfirmed and get an email confirmation token',
    done: 'Unconfirmed',
    label: 'unconfirm_all',
  },
} as const;

/**
 * confirm_all / unconfirm_all: the count and a [y/N] question first (exit 5 without a TTY or -y),
 * progress on stderr, a summary after. Ctrl-C finishes the current batch (exit 130).
 */
export async function runBulkConfirm(verb: BulkConfirmVerb, argv: Record<string, unknown>, ctx: TaskContext): Promise<void> {
  const words = WORDS[verb];
  let progress: Progress | null = null;
  let result;
  try {
    result = await bulkConfirm(
      await ctx.lib({ bulkJob: !ctx.dryRun }),
      verb,
      { ...batchSizingOf(argv, ctx), confirmationTtlMs: ctx.config.confirmationTtlMs },
      {
        dryRun: ctx.dryRun,
        signal: ctx.signal,
        confirm: async (count) => {
          ctx.say(`${users(count)} (local, active, neither admin nor moderator) ${count === 1 ? 'is' : 'are'} ${words.state}.`);
          await ctx.confirm(words.question, { what: words.what, declined: words.declined });
          progress = startProgress(ctx, words.label, count);
        },
        onProgress: (p) => progress?.update(p),
      },
    );
  } finally {
    (progress as Progress | null)?.stop();
  }
  const lines: string[] = [];
  if (result.dryRun) lines.push(result.matched === 0 ? `${words.none}${ctx.dryRunSuffix}` : `${users(result.matched)} ${words.wouldDo}${ctx.dryRunSuffix}`);
  else if (result.matched === 0) lines.push(words.none);
  else if (verb === 'confirm_all') lines.push(`${words.done} ${users(result.changed)} in ${batches(result.batches)}.`);
  else {
    lines.push(
      `${words.done} ${users(result.changed)} in ${batches(result.batches)}; issued ${result.tokensIssued} email confirmation token${result.tokensIssued === 1 ? '' : 's'}.`,
    );
    // Pleroma's unconfirm_all mails nothing and shows no token; neither does this.
    if (result.tokensIssued > 0) lines.push('The tokens are not shown: ctl user send_confirmation <user> mails a fresh link.');
  }
  ctx.result({ ...result }, lines);
}
