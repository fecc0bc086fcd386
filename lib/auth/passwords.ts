import bcrypt from 'bcryptjs';
import { UsageError } from '../errors';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_BYTES = 72; // bcrypt ignores everything past 72 bytes: refuse rather than truncate.

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new UsageError(`the password is too short: at least ${MIN_PASSWORD_LENGTH} characters`);
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw new UsageError(`the password is too long: at most ${MAX_PASSWORD_BYTES} bytes`);
  if (password.includes('\0')) throw new UsageError('the password contains a NUL byte');
}

export async function hashPassword(password: string, cost: number): Promise<string> {
  checkPassword(password);
  return bcrypt.hash(password, cost);
}

/**
 * A new hash of a password that has just matched its stored hash (the re-hash at login when
 * CTL_BCRYPT_COST rose): no rules, which are for new passwords. A password set before a rule, or
 * by the app whose table this is, must keep working.
 */
export async function rehashPassword(password: string, cost: number): Promise<string> {
  return bcrypt.hash(password, cost);
}

export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (!hash) return false;
  // bcrypt would compare only the first 72 bytes, so a longer password with the right prefix would
  // pass; no password that long was ever set (checkPassword refuses it). Still pays the bcrypt, so
  // the refusal takes as long as any wrong password.
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    await bcrypt.compare('', hash);
    return false;
  }
  return bcrypt.compare(password, hash);
}

/** The cost a stored hash was made with, to re-hash at login when the configured cost rises. */
export function costOf(hash: string): number {
  return bcrypt.getRounds(hash);
}
