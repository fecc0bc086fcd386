import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { countUsers, type UserCounts } from '../user/count';

export interface Metrics extends UserCounts {
  /** Live access tokens (sessions) that are neither revoked nor expired. */
  readonly sessions: number;
  /** Local, not deleted accounts with MFA on. */
  readonly mfaEnabled: number;
  /** Local, not deleted accounts whose email is not confirmed. */
  readonly unconfirmed: number;
}

/** The counts behind /metrics: `ctl user count`'s licence counting (one rule) plus sessions. */
export async function collectMetrics(db: Kysely<Database>, now: Date, activeWindowMs: number): Promise<Metrics> {
  const counts = await countUsers(db, new Date(now.getTime() - activeWindowMs));
  const extra = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom('tokens')
        .select(eb.fn.countAll<number>().as('n'))
        .where('kind', '=', 'access')
        .where('revoked_at', 'is', null)
        .where('used_at', 'is', null)
        .where((w) => w.or([w('expires_at', 'is', null), w('expires_at', '>', now)]))
        .as('sessions'),
      eb
        .selectFrom('users')
        .select(eb.fn.countAll<number>().as('n'))
        .where('local', '=', true)
        .where('deleted_at', 'is', null)
        .where('mfa_enabled', '=', true)
        .as('mfa'),
      eb
        .selectFrom('users')
        .select(eb.fn.countAll<number>().as('n'))
        .where('local', '=', true)
        .where('deleted_at', 'is', null)
        .where('confirmed', '=', false)
        .as('unconfirmed'),
    ])
    .executeTakeFirstOrThrow();
  return { ...counts, sessions: Number(extra.sessions), mfaEnabled: Number(extra.mfa), unconfirmed: Number(extra.unconfirmed) };
}

function windowLabel(ms: number): string {
  if (ms % 86400e3 === 0) return `${ms / 86400e3}d`;
  if (ms % 3600e3 === 0) return `${ms / 3600e3}h`;
  return `${Math.round(ms / 1000)}s`;
}

function gauge(name: string, help: string, samples: ReadonlyArray<readonly [string, number]>): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${samples.map(([labels, v]) => `${name}${labels} ${v}`).join('\n')}\n`;
}

/**
 * Prometheus text exposition. `num_active_users` is Overleaf's: every local account that is not
 * deleted (what holds a licence, as `ctl user count` says); the rest break it down.
 */
export function renderMetrics(m: Metrics, activeWindowMs: number): string {
  return [
    gauge('num_active_users', 'Local accounts that are not deleted (licence count, as ctl user count)', [['', m.total]]),
    gauge('num_users', 'Local accounts by state', [
      ['{state="active"}', m.total - m.deactivated],
      ['{state="deactivated"}', m.deactivated],
      ['{state="deleted"}', m.deleted],
    ]),
    gauge('num_users_logged_in_recently', 'Local accounts that logged in within the window (CTL_ACTIVE_WINDOW)', [
      [`{window="${windowLabel(activeWindowMs)}"}`, m.activeInWindow],
    ]),
    gauge('num_users_unconfirmed', 'Local accounts whose email is not confirmed', [['', m.unconfirmed]]),
    gauge('num_users_mfa_enabled', 'Local accounts with two-factor authentication on', [['', m.mfaEnabled]]),
    gauge('num_active_sessions', 'Live sessions (access tokens neither revoked nor expired)', [['', m.sessions]]),
  ].join('');
}
