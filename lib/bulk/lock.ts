import { sql, type ControlledTransaction, type Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { isEmbedded } from '../db/db';
import { ConflictError } from '../errors';

/** The lock of a running bulk job, as its batches see it. */
export interface HeldJobLock {
  /**
   * Proves the lock is still held (one round trip on its connection); throws the driver's error,
   * which the runner reports as a lost connection (exit 6), when its connection is gone.
   */
  check(): Promise<void>;
}

const EMBEDDED: HeldJobLock = { check: async () => undefined };

/**
 * Runs `plan`, the statement(s) a verb makes before its bulk job (the user, the counts it shows),
 * while the second server connection the job needs opens (its lock's transaction holds one, its
 * batches run on another): a new connection is a backend start on the server, several ms on a
 * quiet host and tens on a busy one, that then overlaps the plan instead of delaying the job.
 * `plan`'s first statement takes the open connection, so the pool opens exactly one more; both
 * are idle in the pool when the job starts. Nothing more on the embedded database (one session).
 */
export function whileJobConnectionOpens<T>(db: Kysely<Database>, plan: () => Promise<T>): Promise<T> {
  const planned = plan();
  if (!isEmbedded(db)) opening.set(db, openConnection(db));
  return planned;
}

/** The connection whileJobConnectionOpens started to open, for withBulkLock to wait for instead of opening another. */
const opening = new WeakMap<Kysely<Database>, Promise<void>>();

/** Opens a connection in `db`'s pool, if it has no idle one, and leaves it there idle. */
function openConnection(db: Kysely<Database>): Promise<void> {
  return db
    .connection()
    .execute(async () => undefined)
    .catch(() => undefined);
}

/**
 * Runs `fn` while holding the single-run lock named after the job, so only one run of a bulk verb
 * goes at a time, across hosts: a second run is exit 4, `another <job> is already running`.
 *
 * On a server the lock is a transaction-level advisory lock (`pg_try_advisory_xact_lock`) taken in
 * a transaction of its own, on a connection of its own, that stays open, writing nothing, for the
 * whole job; `fn` runs its batches on the other connections of `db`. Why not a session-level lock
 * (`pg_try_advisory_lock`) on the batches' connection: behind PgBouncer in transaction pooling
 * mode, each transaction of a client may run on another server connection, so a session lock
 * stays on whichever one took it, is held "again" by the next client that lands there (two runs
 * at once), and is never released when the unlock lands elsewhere. An open transaction pins its
 * server connection in every pooling mode, and it goes, lock included, with its client: a killed
 * `ctl` closes its socket, the server (or PgBouncer, which then closes its server connection)
 * rolls the transaction back, and a re-run takes the lock at once. A lock row with a lease would
 * survive a SIGKILL until the lease ran out.
 *
 * The transaction is READ COMMITTED and never gets a transaction id, so between its statements it
 * holds no snapshot: it keeps nothing from VACUUM. It switches the server's
 * `idle_in_transaction_session_timeout` off for itself (`SET LOCAL`), since it is idle on purpose
 * while the batches run. `check()` (with each batch) keeps it from looking idle for longer than
 * a batch, and stops the job if the lock's connection was lost. Each running job therefore pins
 * one server connection: a PgBouncer pool needs room for it beside the batches.
 *
 * On the embedded database there is no lock here: PGlite has one session (the batches need it),
 * and its data-directory lock already admits one process at a time.
 */
export async function withBulkLock<T>(db: Kysely<Database>, job: string, fn: (db: Kysely<Database>, lock: HeldJobLock) => Promise<T>): Promise<T> {
  if (isEmbedded(db)) return fn(db, EMBEDDED);
  const key = `userctl:${job}`;
  const started = db.startTransaction().setIsolationLevel('read committed').execute();
  // The batches need a connection of their own beside the lock's: a new server connection costs
  // a backend start (several ms, far more on a busy host), so it opens while the lock is taken,
  // unless the verb's plan already had one opening (whileJobConnectionOpens).
  const warm = opening.get(db) ?? openConnection(db);
  opening.delete(db);
  const trx: ControlledTransaction<Database> = await started;
  let result: T;
  try {
    const { rows } = await sql<{ ok: boolean }>`
      SELECT set_config('idle_in_transaction_session_timeout', '0', true) AS timeout, pg_try_advisory_xact_lock(hashtext(${key})) AS ok`.execute(trx);
    if (!rows[0]?.ok) throw new ConflictError(`another ${job} is already running`);
    await warm;
    result = await fn(db, { check: async () => void (await sql`SELECT 1`.execute(trx)) });
  } catch (error) {
    // The job's own error is the one to report; a failed rollback still frees the connection.
    await trx
      .rollback()
      .execute()
      .catch(() => undefined);
    throw error;
  }
  // The lock's transaction wrote nothing: ending it is all that frees the lock. If its connection
  // died after the last batch, the lock went with it and the job is done all the same.
  await trx
    .rollback()
    .execute()
    .catch(() => undefined);
  return result;
}
