import { PassThrough } from 'node:stream';
import { formatDuration, startProgress } from '../../../tasks/runner/progress';
import type { TaskContext } from '../../../tasks/runner/task-context';

// Progress of import and every bulk verb (tasks/runner/progress.ts): a bar on a terminal, plain lines
// every few seconds otherwise, nothing with --quiet.

function fakeContext(opts: { quiet?: boolean; tty?: boolean }): { ctx: TaskContext; written: () => string } {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (d) => (text += d));
  if (opts.tty) Object.assign(stderr, { isTTY: true, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  const ctx = { options: { quiet: Boolean(opts.quiet) }, io: { stderr, stderrIsTTY: Boolean(opts.tty) } } as unknown as TaskContext;
  return { ctx, written: () => text };
}

const tick = () => new Promise((r) => setImmediate(r));

test('not a terminal: a line with count, batches, rate and ETA each interval, and one closing line', async () => {
  const { ctx, written } = fakeContext({});
  const p = startProgress(ctx, 'import', 30, { everyMs: 0 });
  p.update({ done: 10, total: 30, batches: 1 });
  p.update({ done: 30, total: 30, batches: 3 });
  p.stop();
  p.stop();
  await tick();
  const lines = written().trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^import: 10\/30 rows, 1 batch, \d+ rows\/s, ETA \d+s$/);
  expect(lines[1]).toMatch(/^import: 30\/30 rows, 3 batches, \d+ rows\/s$/);
});

test('not a terminal, a short run: nothing at all (cron mail stays short); unknown totals have no ETA', async () => {
  const quick = fakeContext({});
  const p = startProgress(quick.ctx, 'confirm_all', 30);
  p.update({ done: 30, total: 30, batches: 1 });
  p.stop();
  await tick();
  expect(quick.written()).toBe('');
  const open = fakeContext({});
  const q = startProgress(open.ctx, 'purge', null, { everyMs: 0 });
  q.update({ done: 5, total: null, batches: 1 });
  await tick();
  expect(open.written()).toMatch(/^purge: 5 rows, 1 batch, \d+ rows\/s\n$/);
});

test('--quiet: nothing, on a terminal or not', async () => {
  for (const tty of [false, true]) {
    const { ctx, written } = fakeContext({ quiet: true, tty });
    const p = startProgress(ctx, 'import', 10, { everyMs: 0 });
    p.update({ done: 10, total: 10, batches: 1 });
    p.stop();
    await tick();
    expect(written()).toBe('');
  }
});

test('on a terminal: a cli-progress bar with count, percentage, rate and ETA', async () => {
  const { ctx, written } = fakeContext({ tty: true });
  const p = startProgress(ctx, 'import', 40);
  p.update({ done: 20, total: 40, batches: 2 });
  p.update({ done: 40, total: 40, batches: 4 });
  p.stop();
  await tick();
  expect(written()).toMatch(/import \[[█░]+\] 40\/40 100% \| \d+ rows\/s \| ETA 0s/);
});

test('formatDuration', () => {
  expect([formatDuration(0), formatDuration(12.4), formatDuration(187), formatDuration(3720)]).toEqual(['0s', '12s', '3m 07s', '1h 02m']);
});
