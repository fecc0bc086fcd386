import { sql } from 'kysely';
import { InterruptedError } from '../errors';
import type { BatchProgress } from '../bulk/batches';
import type { BulkJob } from '../bulk/job';
import { links } from '../tokens/links';
import { uniqueViolation } from '../db/pg-errors';
import type { HashPool } from '../auth/hash-pool';
import { yieldToEventLoop } from '../bulk/sql';
import type { ImportRow } from './plan';
import { BatchParams } from './batch-params';
import type { ImportRowSource } from './row-store';

export interface ImportSettings {
  readonly appUrl: string;
  readonly bcryptCost: number;
  readonly passwordResetTtlMs: number;
}

/** One row's outcome once written. */
export interface CreatedImportRow {
  readonly line: number;
  readonly id: number;
  readonly nickname: string;
  readonly email: string;
  /** Display name, for the greeting of a set-password mail. */
  readonly name: string;
  /** The set-password link of a row without a password, shown once; null when a password was given. */
  readonly passwordReset: { readonly token: string; readonly url: string; readonly expiresAt: Date } | null;
}

/** A row valid at planning time whose nickname or email was taken by someone else before its batch ran. */
export interface LostImportRow {
  readonly line: number;
  readonly nickname: string;
  readonly email: string;
  readonly error: string;
}

export { newTokens } from './batch-params';

export interface WriteOptions {
  /** Needed when a row has a password: bcrypt runs in its worker threads. */
  readonly hashPool?: HashPool | null;
  readonly onProgress?: (progress: BatchProgress) => void;
  /** Each batch's outcome, after its transaction committed (links can be printed or mailed now). */
  readonly onBatch?: (created: readonly CreatedImportRow[], lost: readonly LostImportRow[]) => Promise<void> | void;
}

export interface WriteResult {
  readonly created: number;
  readonly lost: number;
  readonly batches: number;
}

/**
 * Writes planned rows, a batch per transaction. Each batch is one statement: the users, their
 * set-password tokens (hashes only) and one audit row per user, from arrays bound as parameters
 * (`unnest`), so the number of statements grows with batches, not with users. Passwords are
 * hashed in the worker pool before the batch's transaction opens, the next batch's while this
 * one is written; the other columns and the tokens are encoded (BatchParams) and the last
 * committed batch handed over (onBatch) while the server writes this one. The job's batches
 * (lib/bulk/job) size them; Ctrl-C (the job's signal) stops after the current batch with exit 130.
 */
export async function writeImport(job: BulkJob, rows: ImportRowSource, settings: ImportSettings, opts: WriteOptions): Promise<WriteResult> {
  const { ctx } = job;
  const hashes = new Array<Promise<string> | undefined>(rows.length);
  const requestHashes = (part: readonly ImportRow[], from: number) => {
    const idx: number[] = [];
    const passwords: string[] = [];
    part.forEach((r, k) => {
      if (r.password === null || hashes[from + k] !== undefined) return;
      idx.push(from + k);
      passwords.push(r.password);
    });
    if (idx.length === 0) return;
    if (!opts.hashPool) throw new Error('writeImport: rows have passwords but no hash pool was given');
    const all = opts.hashPool.hashMany(passwords, settings.bcryptCost);
    all.catch(() => undefined); // awaited per row below; an interrupted run may never await it
    idx.forEach((i, k) => {
      hashes[i] = all.then((h) => h[k]);
      hashes[i].catch(() => undefined);
    });
  };

  // Rows may be packed (ImportRowStore): the last two ranges taken as objects are kept, so a
  // batch is unpacked once for its hashes, its parameters and its outcome.
  let cached: { from: number; to: number; part: readonly ImportRow[] }[] = [];
  const rowsOf = (from: number, to: number): readonly ImportRow[] => {
    const hit = cached.find((c) => c.from === from && c.to === to);
    if (hit) return hit.part;
    const part = rows.slice(from, to);
    cached = [cached[cached.length - 1], { from, to, part }].filter((c) => c !== undefined);
    return part;
  };
  const params = new BatchParams({ length: rows.length, slice: rowsOf });
  let cursor = 0;
  let created = 0;
  let lost = 0;
  let ready: string[] | null = null;
  type Outcome = { done: CreatedImportRow[]; gone: LostImportRow[]; consumed: number };
  // The step's outcome; once runInBatches reports the batch (it does so after COMMIT) the rows
  // are counted and the outcome waits in `committed` to be handed to onBatch.
  let stepped: Outcome | null = null;
  let committed: Outcome | null = null;
  // onBatch of the previous batch (printing its links, mailing them) runs while the next batch's
  // INSERT is on the server: the client's share of a batch no longer adds to the server's.
  // One at a time, in order; awaited before the next one starts and before writeImport returns.
  let handing: Promise<void> = Promise.resolve();
  const handOver = (): Promise<void> => {
    const batch = committed;
    committed = null;
    if (!batch || !opts.onBatch) return handing;
    const previous = handing;
    handing = previous.then(() => opts.onBatch?.(batch.done, batch.gone));
    handing.catch(() => undefined); // awaited before the next batch, or at the end
    return handing;
  };
  try {
    const result = await job.batches(
      {
        total: rows.length,
        onProgress: (p) => {
          const batch = stepped;
          stepped = null;
          if (batch) {
            cursor += batch.consumed;
            created += batch.done.length;
            lost += batch.gone.length;
            committed = batch;
          }
          opts.onProgress?.(p);
        },
        beforeBatch: async (limit) => {
          // The batch before last was handed over during the last batch; a failure there (stdout
          // gone) stops the job before it writes more.
          await handing;
          // Hash this batch (if not already under way) and start the next one, outside any transaction.
          const end = Math.min(cursor + limit, rows.length);
          requestHashes(rowsOf(cursor, end), cursor);
          // Without a pool no row has a password (requestHashes refuses this batch otherwise).
          if (opts.hashPool && end < rows.length) requestHashes(rowsOf(end, Math.min(end + limit, rows.length)), end);
          ready = [];
          for (let i = cursor; i < end; i++) ready.push(hashes[i] === undefined ? '' : await hashes[i]!);
        },
      },
      async (trx, limit) => {
        const part = rowsOf(cursor, Math.min(cursor + limit, rows.length));
        if (part.length === 0) return 0;
        const passwordHashes = ready!;
        const now = ctx.now();
        const expiresAt = new Date(now.getTime() + settings.passwordResetTtlMs);
        const p = params.take(cursor, cursor + part.length);
        const tokens = p.tokens;
        // Plain INSERT first: ON CONFLICT costs about 40% more per row (speculative insertion on
        // two unique indexes, measured on a million users). A row taken since planning (another
        // process's `new`, the app's sign-up) fails the statement; then, back at the savepoint,
        // the batch goes again skipping such rows, and they are reported as lost.
        const insert = (skipConflicts: boolean) =>
          sql<{ id: number; nickname: string }>`
          WITH input AS (
            SELECT * FROM unnest(
              ${p.nickname}::text[], ${p.email}::text[], ${p.name}::text[], ${p.bio}::text[],
              ${passwordHashes.map((h) => (h === '' ? null : h))}::text[],
              ${p.admin}::boolean[], ${p.moderator}::boolean[], ${p.confirmed}::boolean[],
              ${p.tags}::text[], ${p.resetHash}::text[]
            ) AS t(nickname, email, name, bio, password_hash, admin, moderator, confirmed, tags, reset_hash)
          ),
          created AS (
            INSERT INTO users (nickname, email, name, bio, password_hash, local, admin, moderator, confirmed, tags, created_at, updated_at)
            SELECT nickname, email, name, bio, password_hash, true, admin, moderator, confirmed,
                   string_to_array(tags, ' '), ${now}::timestamptz, ${now}::timestamptz
            FROM input
            ${skipConflicts ? sql`ON CONFLICT DO NOTHING` : sql``}
            RETURNING id, nickname, email, admin, moderator, confirmed, tags, password_hash IS NOT NULL AS password_set
          ),
          reset_tokens AS (
            INSERT INTO tokens (kind, token_hash, user_id, expires_at, created_at)
            SELECT 'password_reset', i.reset_hash, c.id, ${expiresAt}::timestamptz, ${now}::timestamptz
            FROM created c JOIN input i ON i.nickname = c.nickname
            WHERE i.reset_hash IS NOT NULL
          ),
          audit AS (
            INSERT INTO audit_log (at, actor, verb, target_user_id, target_nickname, reason, details)
            SELECT ${now}::timestamptz, ${ctx.actor}, 'import', c.id, c.nickname, ${ctx.reason ?? null},
                   jsonb_build_object('email', c.email, 'admin', c.admin, 'moderator', c.moderator,
                                      'confirmed', c.confirmed, 'tags', to_jsonb(c.tags), 'passwordSet', c.password_set)
            FROM created c
          )
          SELECT id, nickname FROM created`.execute(trx);
        await sql`SAVEPOINT import_batch`.execute(trx);
        let inserted: Awaited<ReturnType<typeof insert>>;
        try {
          const sent = insert(false);
          sent.catch(() => undefined); // awaited just below
          // Once the statement is on its way (the driver writes it within this turn of the event
          // loop), hand the last committed batch over while the server works on this one.
          await yieldToEventLoop();
          void handOver();
          // And encode the next batch, guessing it this size: it is ready when it starts.
          params.prepare(cursor + part.length, cursor + 2 * part.length);
          inserted = await sent;
          await sql`RELEASE SAVEPOINT import_batch`.execute(trx);
        } catch (error) {
          if (uniqueViolation(error) === null) throw error;
          await sql`ROLLBACK TO SAVEPOINT import_batch`.execute(trx);
          inserted = await insert(true);
        }
        const ids = new Map(inserted.rows.map((r) => [r.nickname, r.id]));
        const done: CreatedImportRow[] = [];
        const gone: LostImportRow[] = [];
        part.forEach((r, k) => {
          const id = ids.get(r.nickname);
          if (id === undefined) {
            gone.push({ line: r.line, nickname: r.nickname, email: r.email, error: `nickname ${r.nickname} or email ${r.email} was taken while importing` });
            return;
          }
          const token = tokens[k];
          done.push({
            line: r.line,
            id,
            nickname: r.nickname,
            email: r.email,
            name: r.name,
            passwordReset: token === null ? null : { token, url: links.passwordReset(settings.appUrl, token), expiresAt },
          });
        });
        // Reported only after COMMIT: a batch rolled back must not print links that do not work.
        stepped = { done, gone, consumed: part.length };
        return part.length;
      },
    );
    await handOver();
    return { created, lost, batches: result.batches };
  } catch (error) {
    // Every batch that committed is handed over before the error goes on: its links work.
    const handed = handOver();
    if (error instanceof InterruptedError) {
      await handed;
      throw new InterruptedError(
        `interrupted after ${cursor} of ${rows.length} rows (${created} created); every finished batch is saved, re-run the same import to finish the rest`,
      );
    }
    await handed.catch(() => undefined); // the job's own error is the one to report
    throw error;
  }
}
