import { sql, type Kysely, type Transaction } from 'kysely';
import type { LibContext } from '../lib-context';
import type { Database } from '../db/schema';
import { CtlError, InterruptedError, PartialFailureError } from '../errors';
import type { BatchProgress, BatchSizing } from '../bulk/batches';
import { runBulkJob } from '../bulk/job';
import { writeAuditForUsers } from '../audit/audit';
import { isConnectionLoss } from '../db/pg-errors';
import { hashToken, newToken } from '../tokens/secrets';
import { plural } from '../text';

/**
 * The users confirm_all and unconfirm_all touch: local, active, neither admin nor moderator, not
 * soft-deleted. Pleroma means the same but its query drops the "active" key, so deactivated users
 * are included there; here they are not. Written exactly as the predicate of the partial index
 * users_bulk_confirm_idx, so every batch is an index range scan.
 */
const REGULAR_USERS = sql<boolean>`local AND active AND NOT admin AND NOT moderator AND deleted_at IS NULL`;

export type BulkConfirmVerb = 'confirm_all' | 'unconfirm_all';

export interface BulkConfirmSettings extends BatchSizing {
  readonly confirmationTtlMs: number;
}

export interface BulkConfirmOptions {
  readonly dryRun?: boolean;
  /** Ctrl-C: stop after the current batch has committed (exit 130). */
  readonly signal?: AbortSignal;
  /**
   * Called with the number of users to change once the job's lock is held, before anything is
   * written; throw (RefusedError) to stop. Not called when there is nothing to do or in a dry run.
   */
  readonly confirm?: (count: number) => Promise<void>;
  readonly onProgress?: (progress: BatchProgress) => void;
}

export interface BulkConfirmResult {
  readonly verb: BulkConfirmVerb;
  /** Users that needed the change when the run started. */
  readonly matched: number;
  /** Users changed (0 in a dry run). */
  readonly changed: number;
  /** Email-confirmation tokens issued (unconfirm_all only; never shown). */
  readonly tokensIssued: number;
  /** Pending email-confirmation tokens revoked. */
  readonly tokensRevoked: number;
  readonly batches: number;
  readonly dryRun: boolean;
}

interface BatchStats {
  changed: number;
  tokensIssued: number;
  tokensRevoked: number;
}

/** The users a verb would change: regular users whose confirmation differs from the target. */
function pending(verb: BulkConfirmVerb) {
  return verb === 'confirm_all' ? sql<boolean>`NOT confirmed` : sql<boolean>`confirmed`;
}

export async function countBulkConfirm(db: Kysely<Database>, verb: BulkConfirmVerb): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE ${REGULAR_USERS} AND ${pending(verb)}`.execute(db);
  return Number(rows[0].n);
}

/**
 * One batch, a fixed number of set-based statements whatever its size: pick the next `limit`
 * candidate ids after `after` (keyset, so the run always ends), flip them with the filter checked
 * again (a row changed meanwhile is skipped), revoke their pending confirmation links, issue new
 * ones for unconfirm_all (raw values made here, only their hashes stored), and write one audit
 * row per user.
 */
async function runBatch(
  trx: Transaction<Database>,
  ctx: LibContext,
  verb: BulkConfirmVerb,
  settings: BulkConfirmSettings,
  after: number,
  limit: number,
  stats: BatchStats,
): Promise<{ scanned: number; last: number }> {
  const candidates = await sql<{ id: number }>`
    SELECT id FROM users
    WHERE ${REGULAR_USERS} AND ${pending(verb)} AND id > ${after}
    ORDER BY id
    LIMIT ${limit}`.execute(trx);
  const ids = candidates.rows.map((r) => Number(r.id));
  if (ids.length === 0) return { scanned: 0, last: after };
  const now = ctx.now();
  const target = verb === 'confirm_all';
  const updated = await sql<{ id: number; nickname: string }>`
    UPDATE users SET confirmed = ${target}, updated_at = ${now}
    WHERE id = ANY(${ids}::bigint[]) AND ${REGULAR_USERS} AND ${pending(verb)}
    RETURNING id, nickname`.execute(trx);
  const users = updated.rows.map((r) => ({ id: Number(r.id), nickname: r.nickname }));
  const changedIds = users.map((u) => u.id);
  if (users.length > 0) {
    const revoked = await sql`
      UPDATE tokens SET revoked_at = ${now}
      WHERE kind = 'email_confirmation' AND user_id = ANY(${changedIds}::bigint[])
        AND revoked_at IS NULL AND used_at IS NULL`.execute(trx);
    stats.tokensRevoked += Number(revoked.numAffectedRows ?? 0);
    if (!target) {
      const hashes = changedIds.map(() => hashToken(newToken()));
      const expiresAt = new Date(now.getTime() + settings.confirmationTtlMs);
      await sql`
        INSERT INTO tokens (kind, token_hash, user_id, expires_at, created_at)
        SELECT 'email_confirmation', t.token_hash, t.user_id, ${expiresAt}, ${now}
        FROM unnest(${changedIds}::bigint[], ${hashes}::text[]) AS t(user_id, token_hash)`.execute(trx);
      stats.tokensIssued += users.length;
    }
    await writeAuditForUsers(trx, ctx, verb, users, { confirmed: { from: !target, to: target }, ...(target ? {} : { confirmationTokenIssued: true }) });
    stats.changed += users.length;
  }
  return { scanned: ids.length, last: ids[ids.length - 1] };
}

/**
 * confirm_all / unconfirm_all: counts, asks (through `opts.confirm`), then changes every regular
 * user in batches of `settings.batchSize`, each batch its own transaction. Holds an advisory lock
 * named after the verb, so a second run at the same time is exit 4 (`another confirm_all is
 * already running`). Interrupted: the batches done stay done (exit 130, re-run to finish). A batch
 * that fails after others committed is exit 7 saying how many were done.
 */
export async function bulkConfirm(
  ctx: LibContext,
  verb: BulkConfirmVerb,
  settings: BulkConfirmSettings,
  opts: BulkConfirmOptions = {},
): Promise<BulkConfirmResult> {
  const empty = { verb, changed: 0, tokensIssued: 0, tokensRevoked: 0, batches: 0 };
  if (opts.dryRun) return { ...empty, matched: await countBulkConfirm(ctx.db, verb), dryRun: true };
  return runBulkJob(ctx, verb, { batchSize: settings.batchSize, maxBatchSize: settings.maxBatchSize, signal: opts.signal }, async (job) => {
    const matched = await countBulkConfirm(job.ctx.db, verb);
    if (matched === 0) return { ...empty, matched, dryRun: false };
    if (opts.confirm) await opts.confirm(matched);
    // Counted only once a batch has committed (onProgress runs after the commit).
    const stats: BatchStats = { changed: 0, tokensIssued: 0, tokensRevoked: 0 };
    let current: BatchStats = { changed: 0, tokensIssued: 0, tokensRevoked: 0 };
    let after = 0;
    let batches = 0;
    let scanned = 0;
    try {
      await job.batches(
        {
          total: matched,
          onProgress: (p) => {
            stats.changed += current.changed;
            stats.tokensIssued += current.tokensIssued;
            stats.tokensRevoked += current.tokensRevoked;
            if (scanned > 0) batches += 1;
            opts.onProgress?.({ ...p, done: stats.changed, batches });
          },
        },
        async (trx, limit) => {
          current = { changed: 0, tokensIssued: 0, tokensRevoked: 0 };
          const batch = await runBatch(trx, ctx, verb, settings, after, limit, current);
          after = batch.last;
          scanned = batch.scanned;
          return batch.scanned;
        },
      );
    } catch (error) {
      const done = verb === 'confirm_all' ? 'confirmed' : 'unconfirmed';
      if (error instanceof InterruptedError) {
        throw new InterruptedError(
          `interrupted: ${done} ${plural(stats.changed, 'user')} in ${plural(batches, 'batch', 'batches')}; every finished batch is saved, re-run ${verb} to finish the rest`,
        );
      }
      // A lost server is exit 6 whatever was done before it (the runner says so in one line).
      if (error instanceof CtlError || stats.changed === 0 || isConnectionLoss(error)) throw error;
      const reason = (error as Error)?.message?.split('\n')[0] ?? String(error);
      throw new PartialFailureError(
        `${done} ${plural(stats.changed, 'user')} in ${plural(batches, 'batch', 'batches')}, then a batch failed and was rolled back: ${reason}; the users done stay done, re-run ${verb} to finish`,
      );
    }
    return { verb, matched, changed: stats.changed, tokensIssued: stats.tokensIssued, tokensRevoked: stats.tokensRevoked, batches, dryRun: false };
  });
}
