import type { BatchProgress } from '../../lib/bulk/batches';
import type { TaskContext } from './task-context';
import { plural } from '../../lib/text';

export interface Progress {
  update(progress: BatchProgress): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 5000;

export interface ProgressOptions {
  /** How often a plain (non-TTY) line is written; default 5 s. */
  readonly everyMs?: number;
}

/** `1h 02m`, `3m 07s`, `12s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * Progress on stderr for long work: a cli-progress bar with count and ETA on a terminal; a plain
 * line with count and rate every few seconds otherwise (cron mail stays readable); nothing with -q.
 */
export function startProgress(ctx: TaskContext, label: string, total: number | null, opts: ProgressOptions = {}): Progress {
  if (ctx.options.quiet) return { update: () => undefined, stop: () => undefined };
  const every = opts.everyMs ?? PLAIN_EVERY_MS;
  const started = Date.now();
  if (ctx.io.stderrIsTTY && total !== null) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- single-user verbs (rm, delete_activities) import this module; the bar is drawn only on a TTY with a known total
    const { SingleBar, Presets } = require('cli-progress') as typeof import('cli-progress');
    const bar = new SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {percentage}% | {rate} rows/s | ETA {eta_formatted}`,
        stream: ctx.io.stderr,
        hideCursor: true,
        noTTYOutput: false,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0, { rate: 0 });
    return {
      update: (p) => bar.update(Math.min(p.done, total), { rate: Math.round(p.done / Math.max((Date.now() - started) / 1000, 0.001)) }),
      stop: () => bar.stop(),
    };
  }
  let last = started;
  let latest: BatchProgress | null = null;
  let printed = false;
  let lastPrinted = -1;
  const line = (p: BatchProgress) => {
    printed = true;
    lastPrinted = p.done;
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = p.done / seconds;
    const of = p.total !== null ? `/${p.total}` : '';
    const eta = p.total !== null && p.done < p.total && rate > 0 ? `, ETA ${formatDuration((p.total - p.done) / rate)}` : '';
    ctx.io.stderr.write(`${label}: ${p.done}${of} rows, ${plural(p.batches, 'batch', 'batches')}, ${Math.round(rate)} rows/s${eta}\n`);
  };
  return {
    update(p) {
      latest = p;
      if (Date.now() - last >= every) {
        last = Date.now();
        line(p);
      }
    },
    stop() {
      // A final line only for runs long enough to have printed progress at all, and only once.
      if (latest && (printed || Date.now() - started >= every) && latest.done !== lastPrinted) line(latest);
      latest = null;
    },
  };
}
