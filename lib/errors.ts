/**
 * Typed failures. Each carries the exit code of CONVENTIONS.md so that the runner is the only
 * place that turns an error into a process status.
 */
export class CtlError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Exit 2: bad flag, bad value, missing argument. */
export class UsageError extends CtlError {
  override readonly exitCode = 2;
}

/** Exit 3: no such user, invite or token. */
export class NotFoundError extends CtlError {
  override readonly exitCode = 3;
}

/** Exit 4: taken, used up, expired, last admin, already running. */
export class ConflictError extends CtlError {
  override readonly exitCode = 4;
}

/** Exit 4 for an email address that already has an account (registration spends an invite use on it). */
export class EmailTakenError extends ConflictError {}

/** Exit 5: confirmation declined, or needed while stdin is not a TTY. */
export class RefusedError extends CtlError {
  override readonly exitCode = 5;
}

/** Exit 6: database unreachable, busy, not migrated, or a setting with a bad value. */
export class UnavailableError extends CtlError {
  override readonly exitCode = 6;
}

/** Exit 7: a bulk operation finished some rows and failed others. */
export class PartialFailureError extends CtlError {
  override readonly exitCode = 7;
}

/** Exit 130: stopped by SIGINT after finishing or rolling back the current batch. */
export class InterruptedError extends CtlError {
  override readonly exitCode = 130;
}

export function exitCodeOf(error: unknown): number {
  return error instanceof CtlError ? error.exitCode : 1;
}
