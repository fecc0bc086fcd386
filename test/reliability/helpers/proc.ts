import { spawn, type ChildProcess } from 'node:child_process';
import { CTL, ctlEnv, type CtlResult } from '../../helpers/cli';
import type { TestDatabase } from '../../helpers/backend';

/** A running bin/ctl the test can watch, type into, and kill. */
export interface LiveCtl {
  readonly child: ChildProcess;
  /** stdout and stderr so far (merged on a TTY). */
  output(): string;
  /** Resolves once the output matches, rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  type(text: string): void;
  readonly done: Promise<CtlResult & { readonly ms: number }>;
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Starts bin/ctl and returns at once. With `tty`, stdin and stdout are a pseudo-terminal
 * (util-linux `script`), so the process can be held at a prompt as long as the test likes;
 * otherwise stdin is a pipe holding `input`, and `child.pid` is ctl's own pid (for SIGKILL).
 */
export function startCtl(
  db: TestDatabase | null,
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; input?: string; tty?: boolean; timeoutMs?: number; stdinOpen?: boolean } = {},
): LiveCtl {
  const started = Date.now();
  const child = opts.tty
    ? spawn('script', ['-qfec', [process.execPath, CTL, ...args].map(shellQuote).join(' '), '/dev/null'], {
        env: ctlEnv(db, opts.env),
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, [CTL, ...args], { env: ctlEnv(db, opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pattern.test(stdout + stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', (d) => {
    stdout += d;
    check();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    check();
  });
  child.stdin.on('error', () => undefined);
  if (!opts.tty && !opts.stdinOpen) child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120000);
  const done = new Promise<CtlResult & { ms: number }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: opts.tty ? stdout.replace(/\r\n/g, '\n') : stdout, stderr, ms: Date.now() - started });
    });
  });
  return {
    child,
    output: () => stdout + stderr,
    waitFor(pattern, timeoutMs = 60000) {
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far: ${JSON.stringify(stdout + stderr)}`)), timeoutMs);
        waiters.push({ pattern, resolve: () => (clearTimeout(t), resolve()) });
        check();
        void done.then(() => {
          if (waiters.some((w) => w.pattern === pattern)) {
            clearTimeout(t);
            reject(new Error(`ctl ended before ${pattern}; output: ${JSON.stringify(stdout + stderr)}`));
          }
        });
      });
    },
    type: (text) => child.stdin.write(text),
    done,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
