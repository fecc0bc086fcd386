import * as os from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * bcrypt in worker threads, one per core: bcryptjs is pure JavaScript and its async API still runs
 * on the main thread, so a file of 10,000 passwords at cost 12 would take 40 minutes on one core.
 * The workers run the synchronous hash and answer by message; `hashMany` spreads a list over them.
 *
 * @example
 * const pool = createHashPool();
 * try { hashes = await pool.hashMany(passwords, 12); } finally { await pool.close(); }
 */
export interface HashPool {
  /** How many worker threads hash at once. */
  readonly size: number;
  hash(password: string, cost: number): Promise<string>;
  /** bcrypt's compare on a worker: login checks a password without blocking the event loop. */
  verify(password: string, hash: string): Promise<boolean>;
  /** Hashes in input order, spread over every worker. */
  hashMany(passwords: readonly string[], cost: number): Promise<string[]>;
  close(): Promise<void>;
}

// Evaluated as the worker's script: no compiled file to find, so it runs the same under ts-jest,
// from dist/ and from a package install. It receives the path of bcryptjs in workerData.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const loaded = require(workerData.bcryptPath);
const bcrypt = loaded.default || loaded;
parentPort.on('message', (job) => {
  try {
    if (job.against !== undefined) {
      parentPort.postMessage({ id: job.id, hashes: [bcrypt.compareSync(job.passwords[0], job.against) ? 'yes' : 'no'] });
      return;
    }
    const hashes = job.passwords.map((p) => bcrypt.hashSync(p, job.cost));
    parentPort.postMessage({ id: job.id, hashes });
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: String(error && error.message || error) });
  }
});
`;

interface Job {
  readonly id: number;
  readonly resolve: (hashes: string[]) => void;
  readonly reject: (error: Error) => void;
}

/** Worker threads available for hashing: one per core (os.availableParallelism), at least one. */
export function defaultPoolSize(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, cores);
}

export function createHashPool(size: number = defaultPoolSize()): HashPool {
  const bcryptPath = require.resolve('bcryptjs');
  const workers: Worker[] = [];
  const pending = new Map<number, Job>();
  let nextId = 1;
  let next = 0;
  let closed = false;
  let failure: Error | null = null;

  const spawn = (): Worker => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath } });
    worker.on('message', (msg: { id: number; hashes?: string[]; error?: string }) => {
      const job = pending.get(msg.id);
      if (!job) return;
      pending.delete(msg.id);
      if (msg.error !== undefined) job.reject(new Error(`password hashing failed: ${msg.error}`));
      else job.resolve(msg.hashes!);
    });
    worker.on('error', (error) => {
      failure = error;
      for (const job of pending.values()) job.reject(error);
      pending.clear();
    });
    // Idle workers must not keep the process alive if a caller forgets close().
    worker.unref();
    return worker;
  };

  const ensureWorkers = () => {
    while (workers.length < size) workers.push(spawn());
  };

  const submit = (passwords: string[], cost: number, against?: string): Promise<string[]> => {
    if (closed) return Promise.reject(new Error('the hash pool is closed'));
    if (failure) return Promise.reject(failure);
    ensureWorkers();
    const id = nextId++;
    const worker = workers[next];
    next = (next + 1) % workers.length;
    return new Promise<string[]>((resolve, reject) => {
      pending.set(id, { id, resolve, reject });
      // While a job is out, the worker keeps the process alive so the answer can arrive.
      worker.ref();
      worker.postMessage({ id, passwords, cost, against });
    }).finally(() => {
      if (pending.size === 0) for (const w of workers) w.unref();
    });
  };

  return {
    size,
    async hash(password, cost) {
      return (await submit([password], cost))[0];
    },
    async verify(password, hash) {
      return (await submit([password], 0, hash))[0] === 'yes';
    },
    async hashMany(passwords, cost) {
      if (passwords.length === 0) return [];
      // One slice per worker: as many messages as cores, not one per password.
      const parts = Math.min(size, passwords.length);
      const per = Math.ceil(passwords.length / parts);
      const slices: Promise<string[]>[] = [];
      for (let i = 0; i < passwords.length; i += per) slices.push(submit(passwords.slice(i, i + per), cost));
      return (await Promise.all(slices)).flat();
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const job of pending.values()) job.reject(new Error('the hash pool is closed'));
      pending.clear();
      await Promise.all(workers.map((w) => w.terminate()));
      workers.length = 0;
    },
  };
}
