import { ConflictError } from '../errors';

/** PostgreSQL's unique_violation, with the index it hit. */
export function uniqueViolation(error: unknown): string | null {
  const e = error as { code?: string; constraint?: string };
  return e?.code === '23505' ? e.constraint ?? '' : null;
}

/** Maps a unique violation on users to the conflict message naming what is taken. */
export function userConflict(error: unknown, nickname: string, email: string | null): ConflictError | null {
  const constraint = uniqueViolation(error);
  if (constraint === null) return null;
  if (constraint.includes('email')) return new ConflictError(`email ${email} is already taken`);
  return new ConflictError(`nickname ${nickname} is already taken`);
}
