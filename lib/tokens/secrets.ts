import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A fresh URL-safe token with 256 bits of entropy. Shown once; only its hash is stored. Never
 * starts with '-': operators paste tokens as arguments (`revoke_invite <token>`), where a leading
 * dash would read as an option.
 */
export function newToken(): string {
  for (;;) {
    const token = randomBytes(32).toString('base64url');
    if (!token.startsWith('-')) return token;
  }
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
