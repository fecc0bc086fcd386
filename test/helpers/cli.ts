import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestDatabase } from './backend';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CTL = path.join(ROOT, 'bin', 'ctl');

export interface CtlResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CtlOptions {
  /** Written to stdin, which is then closed (stdin is a pipe: not a TTY). */
  readonly input?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs?: number;
}

/** A scratch directory for one test file's input files: made before its tests, removed after. `use` receives its path. */
export function useTempDir(prefix: string, use: (dir: string) => void): void {
  let dir: string | undefined;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    use(dir);
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
}

/** The environment of a spawned ctl: the test database, fast bcrypt, no .env file, no colour. */
export function ctlEnv(db: TestDatabase | null, extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    USER: 'tester',
    CTL_ENV_FILE: '',
    CTL_BCRYPT_COST: '4',
    NO_COLOR: '1',
    APP_URL: 'http://ctl.test',
    ...(db?.env ?? {}),
  };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs the real `bin/ctl` as a child process. */
export function runCtl(db: TestDatabase | null, args: readonly string[], opts: CtlOptions = {}): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CTL, ...args], { env: ctlEnv(db, opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `bin/ctl` with a pseudo-terminal on stdin/stdout (util-linux `script`), typing `answers`
 * once the prompt appears. Output is the terminal's: stdout and stderr merged, CRLF line ends.
 */
export function runCtlOnTty(db: TestDatabase | null, args: readonly string[], answers: string, opts: CtlOptions = {}): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CTL, ...args].map(shellQuote).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: ctlEnv(db, opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let typed = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!typed && /\[[yYnN/]+\] ?$|\[n\] ?$/.test(stdout.trimEnd() + ' ')) {
        typed = true;
        child.stdin.write(answers);
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

/** A bin/ctl process still running, handed over so a test can signal it mid-run. */
export interface StartedCtl {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts bin/ctl (stdin closed) and hands over the child, to signal it while it runs. */
export function startCtl(db: TestDatabase | null, args: readonly string[], env: Record<string, string> = {}): StartedCtl {
  const child = spawn(process.execPath, [CTL, ...args], { env: ctlEnv(db, env), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (d) => {
    out += d;
    for (const w of [...waiters]) {
      if (!w.pattern.test(out)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stderr.on('data', (d) => (err += d));
  child.stdin.end();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
  void done.then(() => clearTimeout(killer));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor(pattern, timeoutMs = 30000) {
      if (pattern.test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; stdout: ${out.slice(-500)} stderr: ${err.slice(-500)}`)), timeoutMs);
        waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
        void done.then(() => {
          clearTimeout(timer);
          if (!pattern.test(out)) reject(new Error(`ctl ended before ${pattern}; stdout: ${out.slice(-500)} stderr: ${err.slice(-500)}`));
        });
      });
    },
  };
}

/** A CSV of `rows` users with passwords (`${prefix}1..`) written to `dir`: bcrypt makes every batch of it take a while. */
export function passwordCsv(dir: string, name: string, rows: number, prefix = 'p'): string {
  const lines = ['nickname,email,password'];
  for (let i = 1; i <= rows; i++) lines.push(`${prefix}${i},${prefix}${i}@example.com,password-${i}`);
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
}
