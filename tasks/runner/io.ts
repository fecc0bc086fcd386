import * as fs from 'node:fs';
import * as tty from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { InterruptedError, RefusedError } from '../../lib/errors';

/**
 * Every byte the CLI reads or writes goes through here: data to stdout; prompts, progress,
 * warnings and errors to stderr. Tests build one over buffers.
 */
export interface Io {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdinIsTTY: boolean;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Terminal width of stdout, or null when it is not a terminal. */
  readonly columns: number | null;
  /**
   * The controlling terminal for a prompt's answer once stdin was read to its end
   * (`--password-stdin` then Ctrl-D), as sudo and ssh do; null when there is none. Tests omit it.
   */
  readonly openTerminal?: () => tty.ReadStream | null;
  /**
   * The process exits once the verb has run (bin/ctl; not tests running verbs in-process): the
   * database is closed without waiting for the server (OpenOptions.exitsAfterClose).
   */
  readonly exitsAfterRun?: boolean;
}

/** /dev/tty opened for reading, or null without a controlling terminal (cron, systemd). */
function openControllingTerminal(): tty.ReadStream | null {
  try {
    return new tty.ReadStream(fs.openSync('/dev/tty', 'r'));
  } catch {
    return null;
  }
}

export function processIo(): Io {
  return {
    // stdin and stderr are made on first use: most runs read nothing and write no error, and
    // making Node's stream for a file descriptor costs start-up time (issue 17).
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    get stderr() {
      return process.stderr;
    },
    stdinIsTTY: tty.isatty(0),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: tty.isatty(2),
    columns: process.stdout.isTTY ? (process.stdout.columns ?? 80) : null,
    openTerminal: openControllingTerminal,
    exitsAfterRun: true,
  };
}

/**
 * Reads a prompt's answer: from stdin while it still has input, else (stdin consumed by
 * --password-stdin) from the controlling terminal, which is closed again so it does not keep the
 * process alive. A stream that has ended would never answer: refused (exit 5), not a hang.
 */
export async function readAnswer(io: Io, signal?: AbortSignal): Promise<string> {
  if (!io.stdin.readableEnded) return readLine(io, signal);
  const terminal = io.openTerminal?.() ?? null;
  if (!terminal) throw new RefusedError('cannot ask for confirmation: stdin was read to its end and there is no terminal; pass -y to confirm');
  try {
    return await readLine({ ...io, stdin: terminal }, signal);
  } finally {
    terminal.destroy();
  }
}

/**
 * Asks `prompt` and reads a secret typed at the terminal without echoing it: raw mode, ends at Enter or Ctrl-D,
 * Backspace erases, Ctrl-C is exit 130. The terminal is restored whatever happens.
 */
export function readSecret(io: Io, prompt: string, signal?: AbortSignal): Promise<string> {
  const input = io.stdin as tty.ReadStream;
  return new Promise((resolve, reject) => {
    let secret = '';
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(() => resolve(secret));
        if (ch === '\u0003') return finish(() => reject(new InterruptedError('interrupted')));
        if (ch === '\u007f' || ch === '\b') secret = [...secret].slice(0, -1).join('');
        else secret += ch;
      }
    };
    const onEnd = () => finish(() => resolve(secret));
    const onAbort = () => finish(() => reject(new InterruptedError('interrupted')));
    function finish(then: () => void) {
      input.off('data', onData);
      input.off('end', onEnd);
      signal?.removeEventListener('abort', onAbort);
      input.setRawMode(false);
      input.pause();
      io.stderr.write('\n');
      then();
    }
    // Echo off before the prompt shows: what is typed once it appears must never be echoed.
    input.setRawMode(true);
    io.stderr.write(prompt);
    input.on('data', onData);
    input.on('end', onEnd);
    signal?.addEventListener('abort', onAbort);
    input.resume();
  });
}

/** True when stdin is a terminal whose echo can be turned off (a real TTY, not a test's stream). */
export function canHideInput(io: Io): boolean {
  return io.stdinIsTTY && typeof (io.stdin as Partial<tty.ReadStream>).setRawMode === 'function';
}

/** Reads one line from stdin (a prompt's answer); Ctrl-C while waiting is exit 130. */
export function readLine(io: Io, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer | string) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf('\n');
      if (nl >= 0) finish(() => resolve(buffer.slice(0, nl).replace(/\r$/, '')));
    };
    const onEnd = () => finish(() => resolve(buffer));
    const onAbort = () => finish(() => reject(new InterruptedError('interrupted')));
    function finish(then: () => void) {
      io.stdin.off('data', onData);
      io.stdin.off('end', onEnd);
      signal?.removeEventListener('abort', onAbort);
      io.stdin.pause();
      then();
    }
    io.stdin.on('data', onData);
    io.stdin.on('end', onEnd);
    signal?.addEventListener('abort', onAbort);
    io.stdin.resume();
  });
}

/** Reads all of stdin (for --password-stdin and `import -`); Ctrl-C while waiting is exit 130. */
export function readAll(io: Io, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer | string) => chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    const onEnd = () => finish(() => resolve(Buffer.concat(chunks).toString('utf8')));
    const onError = (error: Error) => finish(() => reject(error));
    const onAbort = () => finish(() => reject(new InterruptedError('interrupted')));
    function finish(then: () => void) {
      io.stdin.off('data', onData);
      io.stdin.off('end', onEnd);
      io.stdin.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      io.stdin.pause();
      then();
    }
    if (signal?.aborted) return onAbort();
    io.stdin.on('data', onData);
    io.stdin.on('end', onEnd);
    io.stdin.on('error', onError);
    signal?.addEventListener('abort', onAbort);
    io.stdin.resume();
  });
}
