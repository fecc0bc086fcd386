import * as fs from 'node:fs';

/**
 * What the reliability summary counts besides scenarios: faults injected (a SIGKILL, a killed
 * server connection, a racing process, a stale lock) and inputs tried (argument vectors and field
 * values fed to the parser and verbs). Appended to a file the runner adds up; a no-op elsewhere.
 */
export function tally(kind: 'faults' | 'inputs', n = 1): void {
  const file = process.env.CTL_RELIABILITY_TALLY_FILE;
  if (file && n > 0) fs.appendFileSync(file, `${kind} ${n}\n`);
}
