import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A fresh URL-safe token with 256 bits of entropy. Shown once; only its hash is stored. Never
 * starts with '-': operators paste tokens as arguments (`revoke_invite <token>`), where a leading
 * dash would read as an option.
 */
export function newToken(): string {
  for (;;) {
    const token = randomBytes(32).toString('base64url');
    if (usable(token)) return token;
  }
}

/**
 * `count` tokens as newToken makes them, from one randomBytes call: an import's batch of
 * set-password links costs one call, not one per user (a twentieth of the time). A token that
 * starts with '-' is replaced by a newToken draw, so every token is uniform over the usable ones.
 */
export function newTokenBatch(count: number): string[] {
  const pool = randomBytes(32 * count);
  const tokens: string[] = [];
  for (let k = 0; k < count; k++) {
    const token = pool.subarray(32 * k, 32 * (k + 1)).toString('base64url');
    tokens.push(usable(token) ? token : newToken());
  }
  return tokens;
}

/** The rule of every token: no leading '-' (see newToken). */
function usable(token: string): boolean {
  return !token.startsWith('-');
}

/**
 * SHA-256 of a token. Tokens are random and long, so a fast hash is enough: unlike a password
 * there is nothing to brute-force, and lookups by hash stay an index probe.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares two hex digests in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A readable random password (for --random-password), 20 characters from 120 random bits. */
export function newPassword(): string {
  return randomBytes(15).toString('base64url');
}
