import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { takeAll, type RateLimiter } from '../auth/limits';
import { HttpError } from './http';

export interface MailRequestLimits {
  /** Per address typed, keyed by the email rule, so look-alikes of one address share it. */
  readonly perEmail: RateLimiter;
  /** Per client address. */
  readonly perAddress: RateLimiter;
}

/**
 * A request that mails an address (a password reset, a new confirmation link) is counted per
 * address typed and per client, before anything is looked up and whether or not an account has
 * the address, so the answers never tell them apart. Over either limit: 429 with `body` and
 * Retry-After.
 */
export async function limitMailRequest(
  db: Kysely<Database>,
  limits: MailRequestLimits,
  request: { readonly email: string; readonly address: string; readonly at: number },
  body: Record<string, unknown>,
): Promise<void> {
  const taken = await takeAll(
    db,
    [
      { rule: limits.perEmail.rule, key: request.email },
      { rule: limits.perAddress.rule, key: request.address },
    ],
    request.at,
  );
  if ('wait' in taken) throw new HttpError(429, body, { 'retry-after': String(Math.ceil(taken.wait / 1000)) });
}
