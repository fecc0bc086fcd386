import { Client } from 'pg';
import type { TestDatabase } from '../../helpers/backend';
import { startCtl, sleep, type LiveCtl } from './proc';

/** Rows for the crash scenarios: the 200,000 unless CTL_RELIABILITY_CRASH_ROWS says less (local runs). */
export const CRASH_ROWS = Number(process.env.CTL_RELIABILITY_CRASH_ROWS ?? 200000);

/** A connection of the test's own, to watch a run and to kill the run's server connections. */
export async function monitor(tdb: TestDatabase): Promise<Client> {
  const client = new Client({ connectionString: tdb.url! });
  await client.connect();
  return client;
}

export async function one<T = number>(client: Client, text: string, params: unknown[] = []): Promise<T> {
  const { rows } = await client.query(text, params);
  return Object.values(rows[0])[0] as T;
}

/** Polls `progress` until it reaches `atLeast` (the run is mid-way), or fails if the run ends first. */
export async function waitForProgress(run: LiveCtl, client: Client, progress: string, atLeast: number, timeoutMs = 120000): Promise<number> {
  let ended = false;
  void run.done.then(() => (ended = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = Number(await one(client, progress));
    if (n >= atLeast) return n;
    if (ended) throw new Error(`the run ended at ${n} before reaching ${atLeast}: ${run.output().slice(-800)}`);
    if (Date.now() > deadline) throw new Error(`no progress to ${atLeast} (at ${n}) in ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** The server connections of anyone but the monitor. */
export const OTHERS = `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`;

/** Kills every server connection of the run (pg_terminate_backend): the fault a restart or failover causes. */
export async function terminateOthers(client: Client): Promise<number> {
  const { rows } = await client.query(`SELECT pg_terminate_backend(pid) AS ok FROM (${OTHERS}) p`);
  return rows.length;
}

/** Waits until the server has noticed a killed client and ended its sessions (and their locks). */
export async function waitForNoOthers(client: Client, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Number(await one(client, `SELECT count(*)::int FROM (${OTHERS}) p`)) > 0) {
    if (Date.now() > deadline) throw new Error('the killed run still has server sessions');
    await sleep(50);
  }
}

export { startCtl };
