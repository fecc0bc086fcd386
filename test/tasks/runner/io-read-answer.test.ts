import { PassThrough, Writable } from 'node:stream';
import type * as tty from 'node:tty';
import { readAnswer, type Io } from '../../../tasks/runner/io';
import { RefusedError } from '../../../lib/errors';

// Issue 12, bug 1: once stdin has been read to its end, a prompt's answer comes from the
// controlling terminal; without one it is refused, never a wait on a stream that cannot answer.
const sink = new Writable({ write: (_c, _e, done) => done() });

async function endedStdin(): Promise<PassThrough> {
  const stdin = new PassThrough();
  stdin.end('the password\n');
  stdin.resume();
  await new Promise((resolve) => stdin.once('end', resolve));
  return stdin;
}

test('after stdin ended, the answer is read from the terminal, which is closed again', async () => {
  const terminal = new PassThrough();
  terminal.end('y\n');
  const io: Io = {
    stdin: await endedStdin(),
    stdout: sink,
    stderr: sink,
    stdinIsTTY: true,
    stdoutIsTTY: true,
    stderrIsTTY: true,
    columns: 80,
    openTerminal: () => terminal as unknown as tty.ReadStream,
  };
  expect(await readAnswer(io)).toBe('y');
  expect(terminal.destroyed).toBe(true);
});

test('after stdin ended and with no terminal, the question is refused (exit 5)', async () => {
  const io: Io = {
    stdin: await endedStdin(),
    stdout: sink,
    stderr: sink,
    stdinIsTTY: true,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    columns: null,
    openTerminal: () => null,
  };
  await expect(readAnswer(io)).rejects.toBeInstanceOf(RefusedError);
});

test('while stdin has input, the answer is its next line', async () => {
  const stdin = new PassThrough();
  stdin.end('yes\nmore\n');
  const io: Io = { stdin, stdout: sink, stderr: sink, stdinIsTTY: true, stdoutIsTTY: false, stderrIsTTY: false, columns: null };
  expect(await readAnswer(io)).toBe('yes');
});
