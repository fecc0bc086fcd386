import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where the compiled bench lives (dist/bench) and the project root above it. */
export const ROOT = path.resolve(__dirname, '..', '..');
export const CTL = path.join(ROOT, 'bin', 'ctl');
const PROBE = path.join(__dirname, 'rss-probe.js');

export interface Run {
  readonly seconds: number;
  readonly code: number | null;
  /** Peak RSS of the process in MB, or null when it could not be read. */
  readonly peakRssMb: number | null;
  readonly stdoutBytes: number;
  readonly stdoutLines: number;
  /** The output itself, only when asked for (keepStdout): a few lines, never a listing. */
  readonly stdout: string;
  readonly stderr: string;
  /** Stopped by the bench (SIGINT, then SIGKILL) for taking longer than its time limit. */
  readonly timedOut: boolean;
}

interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
  readonly probe?: boolean;
  readonly keepStdout?: boolean;
  /** Past this, SIGINT (a bulk verb stops after its batch), and SIGKILL 10 s later. */
  readonly timeoutMs?: number;
}

/** Runs a command, timing it from spawn to exit; stdout is counted and dropped (never kept in memory). */
export function timed(command: string, args: readonly string[], opts: SpawnOptions = {}): Promise<Run> {
  const rssFile = opts.probe ? path.join(os.tmpdir(), `userctl-bench-rss-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`) : null;
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (rssFile) {
    env.BENCH_RSS_FILE = rssFile;
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --require ${PROBE}`.trim();
  }
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let bytes = 0;
    let lines = 0;
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      if (opts.keepStdout && stdout.length < 20000) stdout += d.toString();
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines += 1;
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 20000) stderr += d.toString();
    });
    let timedOut = false;
    let killer: NodeJS.Timeout | null = null;
    const limit = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGINT');
          killer = setTimeout(() => child.kill('SIGKILL'), 10000);
        }, opts.timeoutMs)
      : null;
    child.on('error', reject);
    child.on('close', (code) => {
      if (limit) clearTimeout(limit);
      if (killer) clearTimeout(killer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let peakRssMb: number | null = null;
      if (rssFile) {
        try {
          peakRssMb = Number(fs.readFileSync(rssFile, 'utf8')) / 1024;
          fs.rmSync(rssFile, { force: true });
        } catch {
          peakRssMb = null;
        }
      }
      resolve({ seconds, code, peakRssMb, stdoutBytes: bytes, stdoutLines: lines, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** `bin/ctl` with the bench database, no .env file, no colour, quiet progress unless asked. */
export function ctl(databaseUrl: string, args: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return timed(process.execPath, [CTL, ...args], {
    probe: true,
    timeoutMs,
    env: { DATABASE_URL: databaseUrl, CTL_ENV_FILE: '', NO_COLOR: '1', USER: 'bench', APP_URL: 'http://bench.example', ...env },
  });
}

/** Fails loudly when a measured run did not do its job: a figure for a failed run is worse than none. */
export function check(run: Run, what: string): Run {
  if (run.timedOut) throw new Error(`${what} did not finish within the time limit (BENCH_CASE_TIMEOUT); stopped after ${run.seconds.toFixed(0)} s`);
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return run;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
