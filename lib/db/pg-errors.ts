import { ConflictError, EmailTakenError } from '../errors';
import { clipInput } from '../text';

/** PostgreSQL's undefined_table. */
export function isUndefinedTable(error: unknown): boolean {
  return (error as { code?: string })?.code === '42P01';
}

/** PostgreSQL's unique_violation, with the index it hit. */
export function uniqueViolation(error: unknown): string | null {
  const e = error as { code?: string; constraint?: string };
  return e?.code === '23505' ? (e.constraint ?? '') : null;
}

/** PostgreSQL's deadlock_detected: it broke a lock cycle by rolling this transaction back; running it again is safe. */
export function isDeadlock(error: unknown): boolean {
  return (error as { code?: string })?.code === '40P01';
}

/** Maps a unique violation on users to the conflict message naming what is taken. */
export function userConflict(error: unknown, nickname: string, email: string | null): ConflictError | null {
  const constraint = uniqueViolation(error);
  if (constraint === null) return null;
  if (constraint.includes('email')) return new EmailTakenError(`email ${email === null ? null : clipInput(email)} is already taken`);
  return new ConflictError(`nickname ${clipInput(nickname)} is already taken`);
}

/** Driver and server codes that mean the database cannot be reached (or let us in). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', '57P01', '57P03', '3D000', '28P01', '28000']);

/**
 * True for errors that mean the server went away mid-run (killed backend, lost socket). Here, not in
 * db.ts, so the runner reports errors with it without loading kysely or a driver.
 */
export function isConnectionLoss(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e?.code && UNREACHABLE.has(e.code)) return true;
  return /Connection terminated|terminating connection|Client has encountered a connection error|not queryable/i.test(e?.message ?? '');
}

/** pg's pool gave up waiting for a free connection (its connectionTimeoutMillis): the server is busy. */
export function isPoolExhausted(error: unknown): boolean {
  return /timeout exceeded when trying to connect/i.test((error as { message?: string })?.message ?? '');
}
