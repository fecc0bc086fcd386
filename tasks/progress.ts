import type { BatchProgress } from '../lib/batch';
import type { TaskContext } from './context';

export interface Progress {
  update(progress: BatchProgress): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 5000;

/**
 * Progress on stderr for long work: a cli-progress bar with count and ETA on a terminal; a plain
 * line with count and rate every few seconds otherwise (cron mail stays readable); nothing with -q.
 */
export function startProgress(ctx: TaskContext, label: string, total: number | null): Progress {
  if (ctx.options.quiet) return { update: () => undefined, stop: () => undefined };
  const started = Date.now();
  if (ctx.io.stderrIsTTY && total !== null) {
    const { SingleBar, Presets } = require('cli-progress') as typeof import('cli-progress');
    const bar = new SingleBar(
      { format: `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted}`, stream: ctx.io.stderr as NodeJS.WriteStream, hideCursor: true, noTTYOutput: false },
      Presets.shades_classic,
    );
    bar.start(total, 0);
    return {
      update: (p) => bar.update(Math.min(p.done, total)),
      stop: () => bar.stop(),
    };
  }
  let last = started;
  let latest: BatchProgress | null = null;
  const line = (p: BatchProgress) => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const of = p.total !== null ? `/${p.total}` : '';
    ctx.io.stderr.write(`${label}: ${p.done}${of} rows, ${p.batches} batch(es), ${Math.round(p.done / seconds)} rows/s\n`);
  };
  return {
    update(p) {
      latest = p;
      if (Date.now() - last >= PLAIN_EVERY_MS) {
        last = Date.now();
        line(p);
      }
    },
    stop() {
      // A final line only for runs long enough to have printed progress at all.
      if (latest && Date.now() - started >= PLAIN_EVERY_MS) line(latest);
    },
  };
}
