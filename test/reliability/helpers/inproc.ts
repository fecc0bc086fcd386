import type { TestDatabase } from '../../helpers/backend';
import { ctl } from '../../helpers/in-process';

export interface InProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * One command line through the real parser and verbs in this process (test/helpers/in-process.ts):
 * thousands of times faster than spawning bin/ctl, and able to carry what argv cannot (a NUL byte).
 */
export async function runInProcess(
  tdb: TestDatabase,
  args: readonly string[],
  opts: { input?: string; env?: Record<string, string> } = {},
): Promise<InProcessResult> {
  const r = await ctl(tdb, args, opts);
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}
