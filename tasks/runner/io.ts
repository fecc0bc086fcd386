import type { Readable, Writable } from 'node:stream';
import { InterruptedError } from '../../lib/errors';

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
}

export function processIo(): Io {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    columns: process.stdout.isTTY ? process.stdout.columns ?? 80 : null,
  };
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
