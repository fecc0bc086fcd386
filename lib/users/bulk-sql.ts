import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../schema';
import type { LibContext } from '../context';

/**
 * A batch's ids as ONE array parameter (`= any($1::bigint[])`), not one parameter per id: a
 * batch of any size stays under PostgreSQL's 65535-parameter limit and the statement text is the
 * same for every batch.
 */
export function idArray(ids: readonly number[]): RawBuilder<number[]> {
  return sql<number[]>`${[...ids]}::bigint[]`;
}

/**
 * One audit row per account of a batch, in a single INSERT ... SELECT over two array parameters
 * (a VALUES list would grow seven parameters per row).
 */
export async function auditEachUser(
  trx: Transaction<Database> | Kysely<Database>,
  ctx: LibContext,
  verb: string,
  users: readonly { readonly id: number; readonly nickname: string }[],
  details: Record<string, unknown>,
): Promise<void> {
  if (users.length === 0) return;
  await sql`
    INSERT INTO audit_log (at, actor, verb, target_user_id, target_nickname, reason, details)
    SELECT ${ctx.now()}, ${ctx.actor}, ${verb}, t.id, t.nickname, ${ctx.reason ?? null}, ${JSON.stringify(details)}::jsonb
    FROM unnest(${users.map((u) => u.id)}::bigint[], ${users.map((u) => u.nickname)}::text[]) AS t(id, nickname)`.execute(trx);
}

/**
 * Lets the event loop run once. On PGlite every query resolves through promise callbacks only,
 * so a loop of batches never gives Node a turn to run its SIGINT handler: Ctrl-C would be
 * ignored until the whole job ended. Called at the start of each batch, so the abort is seen and
 * the job stops after the batch in progress.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
