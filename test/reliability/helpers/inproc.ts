import { PassThrough, Writable } from 'node:stream';
import type { Io } from '../../../tasks/runner/io';
import { main } from '../../../tasks/runner/main';
import type { TestDatabase } from '../../helpers/backend';

export interface InProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/**
 * Runs one command line through the real parser and verbs (tasks/main.ts `main`) inside the test
 * process: the same code bin/ctl runs, thousands of times faster than spawning it, and able to
 * carry what argv cannot (a NUL byte). stdin is a pipe holding `input`, so never a TTY.
 */
export async function runInProcess(tdb: TestDatabase, args: readonly string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<InProcessResult> {
  const stdin = new PassThrough();
  stdin.end(opts.input ?? '');
  const stdout = new Sink();
  const stderr = new Sink();
  const io: Io = { stdin, stdout, stderr, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false, columns: null };
  const env = { USER: 'tester', CTL_ENV_FILE: '', CTL_BCRYPT_COST: '4', APP_URL: 'http://ctl.test', ...tdb.env, ...(opts.env ?? {}) };
  const code = await main(args, io, env);
  return { code, stdout: stdout.text, stderr: stderr.text };
}
