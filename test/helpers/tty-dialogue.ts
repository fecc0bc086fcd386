import { spawn } from 'node:child_process';
import type { TestDatabase } from './backend';
import { CTL, ctlEnv, type CtlOptions, type CtlResult } from './cli';

/** One turn of a conversation with a prompt: wait until the terminal shows `waitFor`, then type `type`. */
export interface Turn {
  readonly waitFor: RegExp;
  readonly type: string;
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `bin/ctl` on a pseudo-terminal (util-linux `script`), typing each turn's text once its
 * prompt has appeared in what was printed since the previous turn. The output is the terminal's:
 * stdout and stderr merged, everything the terminal echoed, CRLF turned into LF.
 */
export function runCtlDialogue(db: TestDatabase | null, args: readonly string[], turns: readonly Turn[], opts: CtlOptions = {}): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CTL, ...args].map(shellQuote).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: ctlEnv(db, opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let seenUpTo = 0;
    let next = 0;
    child.stdout.on('data', (d) => {
      stdout += d;
      while (next < turns.length && turns[next].waitFor.test(stdout.slice(seenUpTo))) {
        seenUpTo = stdout.length;
        child.stdin.write(turns[next].type);
        next += 1;
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout.replace(/\r\n/g, '\n'), stderr: '' });
    });
  });
}
